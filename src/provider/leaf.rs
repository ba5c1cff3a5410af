//! What every leaf plan node of the crate shares ([`Rapid7ScanExec`],
//! [`Rapid7CountsExec`], `Rapid7LeqlExec`): no children, its properties
//! made once from its schema, a check of the partition asked for, and the
//! lists `EXPLAIN` shows; and its streams run under the statement's
//! [`QueryMeter`], if it has one.
//!
//! A node implements [`LeafExec`] (its name, properties, expressions and
//! how a partition opens) and [`leaf_exec!`] writes its `ExecutionPlan`
//! impl: DataFusion's trait cannot be implemented for every `LeafExec` at
//! once (it is foreign), and the rest of it is the same for each.
//!
//! [`Rapid7ScanExec`]: super::Rapid7ScanExec
//! [`Rapid7CountsExec`]: super::Rapid7CountsExec

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use futures::Stream;

use crate::client::QueryMeter;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{DisplayAs, Partitioning, PhysicalExpr, PlanProperties};

/// A plan node without children (see the module docs).
pub(crate) trait LeafExec: DisplayAs + std::fmt::Debug + Send + Sync + 'static {
    /// The node's name in plans (`Rapid7ScanExec`).
    const NAME: &'static str;

    /// Its properties, made once ([`leaf_properties`]).
    fn leaf_properties(&self) -> &Arc<PlanProperties>;

    /// The expression it evaluates while it runs, if any.
    fn expression(&self) -> Option<&Arc<dyn PhysicalExpr>> {
        None
    }

    /// The stream of `partition` (checked to be one of the node's).
    fn open(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream>;
}

/// The properties of a bounded leaf of `schema` with `partitions`
/// partitions (at least one).
pub(crate) fn leaf_properties(
    schema: &SchemaRef,
    partitions: usize,
    emission: EmissionType,
) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(Arc::clone(schema)),
        Partitioning::UnknownPartitioning(partitions.max(1)),
        emission,
        Boundedness::Bounded,
    ))
}

/// An error unless `partition` is one of `node`'s.
pub(crate) fn check_partition<T: LeafExec>(node: &T, partition: usize) -> DfResult<()> {
    let partitions = node.leaf_properties().partitioning.partition_count();
    if partition < partitions {
        return Ok(());
    }
    Err(DataFusionError::Internal(format!(
        "{} has {partitions} partition{}, asked for {partition}",
        T::NAME,
        if partitions == 1 { "" } else { "s" }
    )))
}

/// The stream of `partition` of `node`, opened and polled under the
/// statement's [`QueryMeter`] when its `SessionConfig` carries one (so that
/// the API queries the node makes count to its statement).
pub(crate) fn open_metered<T: LeafExec>(
    node: &T,
    partition: usize,
    context: Arc<TaskContext>,
) -> DfResult<SendableRecordBatchStream> {
    match context.session_config().get_extension::<QueryMeter>() {
        None => node.open(partition, context),
        Some(meter) => {
            let inner = meter.sync_scope(|| node.open(partition, context))?;
            Ok(Box::pin(Metered { inner, meter }))
        }
    }
}

/// A stream polled under its statement's meter.
struct Metered {
    inner: SendableRecordBatchStream,
    meter: Arc<QueryMeter>,
}

impl Stream for Metered {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.meter.sync_scope(|| this.inner.as_mut().poll_next(cx))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl RecordBatchStream for Metered {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

/// `impl ExecutionPlan for $exec` over its [`LeafExec`] impl.
macro_rules! leaf_exec {
    ($exec:ty) => {
        impl ::datafusion::physical_plan::ExecutionPlan for $exec {
            fn name(&self) -> &str {
                <$exec as $crate::provider::leaf::LeafExec>::NAME
            }

            fn properties(&self) -> &::std::sync::Arc<::datafusion::physical_plan::PlanProperties> {
                $crate::provider::leaf::LeafExec::leaf_properties(self)
            }

            fn children(
                &self,
            ) -> Vec<&::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>> {
                vec![]
            }

            fn apply_expressions(
                &self,
                f: &mut dyn FnMut(
                    &::std::sync::Arc<dyn ::datafusion::physical_plan::PhysicalExpr>,
                ) -> ::datafusion::error::Result<
                    ::datafusion::common::tree_node::TreeNodeRecursion,
                >,
            ) -> ::datafusion::error::Result<::datafusion::common::tree_node::TreeNodeRecursion>
            {
                match $crate::provider::leaf::LeafExec::expression(self) {
                    Some(e) => f(e),
                    None => Ok(::datafusion::common::tree_node::TreeNodeRecursion::Continue),
                }
            }

            fn replace_children(
                self: ::std::sync::Arc<Self>,
                _children: Vec<::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>>,
                _options: ::datafusion::physical_plan::execution_plan::ReplaceChildrenOptions,
            ) -> ::datafusion::error::Result<
                ::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>,
            > {
                Ok(self)
            }

            fn with_new_children(
                self: ::std::sync::Arc<Self>,
                children: Vec<::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>>,
            ) -> ::datafusion::error::Result<
                ::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>,
            > {
                use ::datafusion::physical_plan::execution_plan::{
                    ChildrenPropertiesMode, ReplaceChildrenOptions,
                };
                self.replace_children(
                    children,
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )
            }

            fn execute(
                &self,
                partition: usize,
                context: ::std::sync::Arc<::datafusion::execution::TaskContext>,
            ) -> ::datafusion::error::Result<::datafusion::execution::SendableRecordBatchStream>
            {
                $crate::provider::leaf::check_partition(self, partition)?;
                $crate::provider::leaf::open_metered(self, partition, context)
            }
        }
    };
}

pub(crate) use leaf_exec;

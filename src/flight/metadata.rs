//! The metadata commands' answers: catalogs, schemas, tables (with their
//! Arrow schemas), table types, SQL info, XDBC type info, primary keys
//! (none: logs have none), from a session's catalog.

use std::sync::{Arc, LazyLock};

use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTables, Nullable, Searchable, SqlInfo,
    SqlSupportedTransaction, XdbcDataType,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::TableType;
use datafusion::prelude::SessionContext;

/// The table types a session has.
pub(crate) const TABLE_TYPES: [&str; 2] = ["TABLE", "VIEW"];

/// What `GetSqlInfo` answers.
pub(crate) static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "datafusion-rapid7");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow IPC format version (Schema.fbs, MetadataVersion V5).
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    b.append(SqlInfo::FlightSqlServerCancel, true);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlQuotedIdentifierCase, 3_i32); // case sensitive
    b.append(SqlInfo::SqlIdentifierCase, 2_i32); // lower case
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    b.build().expect("a fixed, valid SqlInfo set")
});

fn xdbc(
    name: &str,
    data_type: XdbcDataType,
    size: Option<i32>,
    prefix: Option<&str>,
) -> XdbcTypeInfo {
    XdbcTypeInfo {
        type_name: name.into(),
        data_type,
        column_size: size,
        literal_prefix: prefix.map(Into::into),
        literal_suffix: prefix.map(Into::into),
        create_params: None,
        nullable: Nullable::NullabilityNullable,
        case_sensitive: matches!(data_type, XdbcDataType::XdbcVarchar),
        searchable: Searchable::Full,
        unsigned_attribute: None,
        fixed_prec_scale: false,
        auto_increment: Some(false),
        local_type_name: Some(name.into()),
        minimum_scale: None,
        maximum_scale: None,
        sql_data_type: data_type,
        datetime_subcode: None,
        num_prec_radix: None,
        interval_precision: None,
    }
}

/// What `GetXdbcTypeInfo` answers: the SQL types of the tables' columns and
/// the common ones of results.
pub(crate) static XDBC_INFO: LazyLock<XdbcTypeInfoData> = LazyLock::new(|| {
    let mut b = XdbcTypeInfoDataBuilder::new();
    b.append(xdbc("BOOLEAN", XdbcDataType::XdbcBit, Some(1), None));
    b.append(xdbc("INTEGER", XdbcDataType::XdbcInteger, Some(32), None));
    b.append(xdbc("BIGINT", XdbcDataType::XdbcBigint, Some(64), None));
    b.append(xdbc("DOUBLE", XdbcDataType::XdbcDouble, Some(53), None));
    b.append(xdbc("VARCHAR", XdbcDataType::XdbcVarchar, None, Some("'")));
    b.append(xdbc(
        "TIMESTAMP",
        XdbcDataType::XdbcTimestamp,
        None,
        Some("'"),
    ));
    b.build().expect("a fixed, valid XDBC type set")
});

/// The schema of `GetPrimaryKeys` answers (always empty here).
pub(crate) fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// Whether `name` matches a Flight SQL pattern (`%` any run, `_` any one
/// character; no pattern matches everything).
pub(crate) fn like(pattern: Option<&str>, name: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('_', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    match pattern {
        None => true,
        Some(p) => go(
            &p.chars().collect::<Vec<_>>(),
            &name.chars().collect::<Vec<_>>(),
        ),
    }
}

/// A builder's error as DataFusion's, for the one `Result` type here.
fn external(e: FlightError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// `GetCatalogs` over `ctx`.
pub(crate) fn catalogs(ctx: &SessionContext, query: CommandGetCatalogs) -> DfResult<RecordBatch> {
    let mut b = query.into_builder();
    for name in ctx.catalog_names() {
        b.append(name);
    }
    b.build().map_err(external)
}

/// `GetDbSchemas` over `ctx` (the builder applies the filters).
pub(crate) fn schemas(ctx: &SessionContext, query: CommandGetDbSchemas) -> DfResult<RecordBatch> {
    let mut b = query.into_builder();
    for catalog_name in ctx.catalog_names() {
        if let Some(catalog) = ctx.catalog(&catalog_name) {
            for schema in catalog.schema_names() {
                b.append(&catalog_name, schema);
            }
        }
    }
    b.build().map_err(external)
}

fn table_type(t: TableType) -> &'static str {
    match t {
        TableType::Base | TableType::Temporary => "TABLE",
        TableType::View => "VIEW",
    }
}

/// `GetTables` over `ctx`: the builder applies the filters; tables are
/// opened (for their type and schema) only where the names match.
pub(crate) async fn tables(ctx: &SessionContext, query: CommandGetTables) -> DfResult<RecordBatch> {
    let catalog_filter = query.catalog.clone();
    let schema_pattern = query.db_schema_filter_pattern.clone();
    let table_pattern = query.table_name_filter_pattern.clone();
    let mut b = query.into_builder();
    for catalog_name in ctx.catalog_names() {
        if catalog_filter.as_ref().is_some_and(|c| c != &catalog_name) {
            continue;
        }
        let Some(catalog) = ctx.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            if !like(schema_pattern.as_deref(), &schema_name) {
                continue;
            }
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            for table_name in schema.table_names() {
                if !like(table_pattern.as_deref(), &table_name) {
                    continue;
                }
                let Some(table): Option<Arc<dyn TableProvider>> = schema.table(&table_name).await?
                else {
                    continue;
                };
                b.append(
                    &catalog_name,
                    &schema_name,
                    &table_name,
                    table_type(table.table_type()),
                    &table.schema(),
                )
                .map_err(external)?;
            }
        }
    }
    b.build().map_err(external)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_flight_sql_says() {
        assert!(like(None, "anything"));
        assert!(like(Some("rapid7%"), "rapid7_logs"));
        assert!(like(Some("rapid_"), "rapid7"));
        assert!(!like(Some("rapid_"), "rapid77"));
        assert!(like(Some("%logs"), "rapid7_logs"));
        assert!(!like(Some("logs"), "rapid7_logs"));
        assert!(like(Some("%"), ""));
    }
}

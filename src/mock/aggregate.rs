//! The statistics of a statement over the simulator's data: the value of
//! `calculate(FN[:field])` per slice of `timeslice(N)`, for every event, or
//! per `groupby` group (one level per key). Pure: the events come from the
//! data function, so a test can compute the same numbers on its own.

use std::collections::BTreeMap;

use super::data::MockDataset;
use super::leql::{Function, Statement};
use super::query::matching_events;

/// The running value of one function over some events.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Acc {
    /// Events seen.
    events: u64,
    /// Events with a numeric field value.
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Acc {
    fn add(&mut self, value: Option<f64>) {
        self.events += 1;
        let Some(v) = value else { return };
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
        self.sum += v;
    }

    /// Events seen.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// The function's value; `None` for a function of a field that no
    /// event had (a count is always a number).
    pub(crate) fn value(&self, f: Function) -> Option<f64> {
        let some = self.n > 0;
        match f {
            Function::Count => Some(self.events as f64),
            Function::Sum => some.then_some(self.sum),
            Function::Average => some.then(|| self.sum / self.n as f64),
            Function::Min => some.then_some(self.min),
            Function::Max => some.then_some(self.max),
        }
    }
}

/// A value over the whole window and per slice.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub(crate) total: Acc,
    pub(crate) slices: Vec<Acc>,
}

impl Series {
    fn new(n: usize) -> Self {
        Self {
            total: Acc::default(),
            slices: vec![Acc::default(); n],
        }
    }

    fn add(&mut self, slice: usize, value: Option<f64>) {
        self.total.add(value);
        self.slices[slice].add(value);
    }
}

/// One group: its value, and its groups by the next key.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// The group's value, lower-cased.
    pub(crate) key: String,
    pub(crate) series: Series,
    pub(crate) children: Vec<Group>,
}

/// What a statement computes over `[from, end)` in `n` slices of `g` ms
/// (the last slice runs to `end`).
pub(crate) struct Aggregate {
    pub(crate) all: Series,
    /// Groups by the first key, largest value first; each with its groups
    /// by the second key (when there is one).
    pub(crate) groups: Vec<Group>,
}

/// Aggregate the events of `logs` in `[from, end)` that `statement`
/// selects.
pub(crate) fn aggregate(
    data: &MockDataset,
    logs: &[String],
    statement: &Statement,
    (from, end): (i64, i64),
    (n, g): (usize, i64),
) -> Aggregate {
    let function = statement.function();
    let field = statement
        .calculate
        .as_ref()
        .and_then(|c| c.field.as_deref());
    let mut all = Series::new(n);
    type Level = BTreeMap<String, (Series, BTreeMap<String, Series>)>;
    let mut groups: Level = BTreeMap::new();
    let events = logs
        .iter()
        .flat_map(|log| matching_events(data, log, statement, from, end));
    for e in events {
        let slice = (((e.timestamp - from) / g.max(1)) as usize).min(n - 1);
        let value = field.and_then(|f| statement.field(&e.message, f)?.trim().parse::<f64>().ok());
        all.add(slice, value);
        let path: Option<Vec<String>> = statement
            .groupby
            .iter()
            .map(|k| statement.field(&e.message, k).map(|v| v.to_lowercase()))
            .collect();
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            continue;
        };
        let (series, children) = groups
            .entry(path[0].clone())
            .or_insert_with(|| (Series::new(n), BTreeMap::new()));
        series.add(slice, value);
        if let Some(second) = path.get(1) {
            children
                .entry(second.clone())
                .or_insert_with(|| Series::new(n))
                .add(slice, value);
        }
    }
    let by_value = |a: &Group, b: &Group| {
        let v = |g: &Group| g.series.total.value(function).unwrap_or(f64::NEG_INFINITY);
        v(b).total_cmp(&v(a)).then_with(|| a.key.cmp(&b.key))
    };
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|(key, (series, children))| {
            let mut children: Vec<Group> = children
                .into_iter()
                .map(|(key, series)| Group {
                    key,
                    series,
                    children: Vec::new(),
                })
                .collect();
            children.sort_by(by_value);
            Group {
                key,
                series,
                children,
            }
        })
        .collect();
    groups.sort_by(by_value);
    Aggregate { all, groups }
}

//! Reading upstream tables by column name whatever their numeric type, with errors that
//! say which table lacks what. Shared by the `tsne`, `plot` and `report` stages.

use anyhow::{bail, Context, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type};

/// A table and a name for it in messages ("table `curves` of stage `train`").
pub struct Named<'a> {
    pub batch: &'a RecordBatch,
    pub what: String,
}

impl<'a> Named<'a> {
    pub fn new(batch: &'a RecordBatch, what: impl Into<String>) -> Self {
        Named {
            batch,
            what: what.into(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.batch.column_by_name(name).is_some()
    }

    pub fn column(&self, name: &str) -> Result<&ArrayRef> {
        match self.batch.column_by_name(name) {
            Some(c) => Ok(c),
            None => {
                let have: Vec<String> = self
                    .batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                bail!(
                    "{} has no column `{name}` (it has: {})",
                    self.what,
                    have.join(", ")
                )
            }
        }
    }

    /// Any integer or float column as f64; nulls become NaN.
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        let col = self.column(name)?;
        if !col.data_type().is_numeric() {
            bail!(
                "{}: column `{name}` is {}, expected numbers",
                self.what,
                col.data_type()
            );
        }
        let c = cast(col, &DataType::Float64)
            .with_context(|| format!("{}: column `{name}`", self.what))?;
        let a = c.as_primitive::<Float64Type>();
        Ok((0..a.len())
            .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
            .collect())
    }

    /// A text or integer column as strings (integers without decimals); nulls become "".
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        let col = self.column(name)?;
        let c = cast(col, &DataType::Utf8)
            .with_context(|| format!("{}: column `{name}`", self.what))?;
        let a = c.as_string::<i32>();
        Ok((0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    String::new()
                } else {
                    a.value(i).to_string()
                }
            })
            .collect())
    }
}

/// True for columns that identify a row (text and integers) rather than measure it.
pub fn is_identifier(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean
    ) || dt.is_integer()
}

/// Rows of a list column of floats (List, LargeList or FixedSizeList of f32/f64) as one
/// row-major f32 buffer; every row must have the same length. Returns (values, length).
pub fn float_lists(t: &Named<'_>, name: &str) -> Result<(Vec<f32>, usize)> {
    let col = t.column(name)?;
    let rows: Vec<ArrayRef> = match col.data_type() {
        DataType::List(_) => col
            .as_list::<i32>()
            .iter()
            .map(|r| r.unwrap_or_else(|| empty()))
            .collect(),
        DataType::LargeList(_) => col
            .as_list::<i64>()
            .iter()
            .map(|r| r.unwrap_or_else(|| empty()))
            .collect(),
        DataType::FixedSizeList(_, _) => col
            .as_fixed_size_list()
            .iter()
            .map(|r| r.unwrap_or_else(|| empty()))
            .collect(),
        other => bail!(
            "{}: column `{name}` is {other}, expected a list of floats",
            t.what
        ),
    };
    let dim = rows.first().map_or(0, |r| r.len());
    let mut out = Vec::with_capacity(rows.len() * dim);
    for (i, r) in rows.iter().enumerate() {
        if r.len() != dim {
            bail!(
                "{}: row {i} of column `{name}` holds {} values, row 0 holds {dim}; every snapshot must have the same size",
                t.what,
                r.len()
            );
        }
        match r.data_type() {
            DataType::Float32 => out.extend(r.as_primitive::<Float32Type>().values().iter()),
            DataType::Float64 => out.extend(
                r.as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .map(|&v| v as f32),
            ),
            other => bail!(
                "{}: column `{name}` holds {other}, expected f32 or f64",
                t.what
            ),
        }
    }
    Ok((out, dim))
}

fn empty() -> ArrayRef {
    arrow::array::new_empty_array(&DataType::Float32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Builder, Int64Array, ListBuilder, StringArray, UInt32Array};
    use std::sync::Arc;

    #[test]
    fn reads_numbers_strings_and_lists_and_names_what_is_missing() {
        let mut lb = ListBuilder::new(Float32Builder::new());
        lb.values().append_slice(&[1.0, 2.0]);
        lb.append(true);
        lb.values().append_slice(&[3.0, 4.0]);
        lb.append(true);
        let batch = RecordBatch::try_from_iter(vec![
            ("seed", Arc::new(Int64Array::from(vec![42, 7])) as ArrayRef),
            (
                "optimizer",
                Arc::new(StringArray::from(vec!["adam", "gd"])) as ArrayRef,
            ),
            ("epoch", Arc::new(UInt32Array::from(vec![1, 2])) as ArrayRef),
            ("weights", Arc::new(lb.finish()) as ArrayRef),
        ])
        .unwrap();
        let t = Named::new(&batch, "table `snapshots`");
        assert_eq!(t.f64s("epoch").unwrap(), vec![1.0, 2.0]);
        assert_eq!(t.strings("seed").unwrap(), vec!["42", "7"]);
        assert_eq!(
            float_lists(&t, "weights").unwrap(),
            (vec![1.0, 2.0, 3.0, 4.0], 2)
        );
        let err = t.f64s("test_acc").unwrap_err().to_string();
        assert!(err.contains("table `snapshots` has no column `test_acc` (it has: seed, optimizer, epoch, weights)"), "{err}");
        assert!(t.f64s("optimizer").is_err());
    }
}

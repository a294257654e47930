//! The feature table every vectoriser produces (`tfidf`, `e5`) and `train` reads: one row per
//! QA row, its label and group, and its feature vector stored sparsely (indices + values), so
//! TF-IDF rows stay small and dense embeddings fit the same shape. Tables `train` and `test`;
//! the vector length is the schema metadata `dim`.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{
    Array, Float64Array, Float64Builder, ListArray, ListBuilder, RecordBatch, UInt32Array,
    UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Schema};
use ndarray::{Array1, Array2};

/// A dense feature matrix with what `train` needs beside it.
#[derive(Debug, Clone)]
pub struct Features {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
    pub groups: Vec<u32>,
}

/// One row's non-zero entries, indices ascending.
pub type SparseRow = (Vec<u32>, Vec<f64>);

pub fn to_batch(
    rows: &[SparseRow],
    labels: &[i8],
    groups: &[u32],
    dim: usize,
) -> Result<RecordBatch> {
    if rows.len() != labels.len() || rows.len() != groups.len() {
        bail!("feature rows, labels and groups differ in length");
    }
    let mut idx = ListBuilder::new(UInt32Builder::new());
    let mut val = ListBuilder::new(Float64Builder::new());
    for (i, v) in rows {
        if i.iter().any(|&c| c as usize >= dim) {
            bail!("feature index out of range (dim {dim})");
        }
        idx.values().append_slice(i);
        idx.append(true);
        val.values().append_slice(v);
        val.append(true);
    }
    let idx = idx.finish();
    let val = val.finish();
    let meta = HashMap::from([("dim".to_string(), dim.to_string())]);
    let schema = Schema::new(vec![
        Field::new("row", DataType::UInt32, false),
        Field::new("group", DataType::UInt32, false),
        Field::new("label", DataType::Float64, false),
        Field::new("indices", idx.data_type().clone(), false),
        Field::new("values", val.data_type().clone(), false),
    ])
    .with_metadata(meta);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(UInt32Array::from_iter_values(0..rows.len() as u32)),
            Arc::new(UInt32Array::from(groups.to_vec())),
            Arc::new(Float64Array::from_iter_values(
                labels.iter().map(|&l| l as f64),
            )),
            Arc::new(idx),
            Arc::new(val),
        ],
    )?)
}

/// Dense rows (embeddings) in the same shape: every index stored.
pub fn dense_to_batch(x: &Array2<f64>, labels: &[i8], groups: &[u32]) -> Result<RecordBatch> {
    let dim = x.ncols();
    let rows: Vec<SparseRow> = x
        .rows()
        .into_iter()
        .map(|r| ((0..dim as u32).collect(), r.to_vec()))
        .collect();
    to_batch(&rows, labels, groups, dim)
}

pub fn from_batch(batch: &RecordBatch) -> Result<Features> {
    let dim: usize = batch
        .schema()
        .metadata()
        .get("dim")
        .context(
            "feature table has no `dim` metadata: is the input a vectoriser stage (tfidf, e5)?",
        )?
        .parse()?;
    let col = |n: &str| {
        batch
            .column_by_name(n)
            .with_context(|| format!("feature table has no column `{n}`"))
    };
    let groups = col("group")?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .context("group: u32")?
        .values()
        .to_vec();
    let y = col("label")?
        .as_any()
        .downcast_ref::<Float64Array>()
        .context("label: f64")?
        .values()
        .to_vec();
    let idx = col("indices")?
        .as_any()
        .downcast_ref::<ListArray>()
        .context("indices: list")?;
    let val = col("values")?
        .as_any()
        .downcast_ref::<ListArray>()
        .context("values: list")?;
    let mut x = Array2::zeros((batch.num_rows(), dim));
    for r in 0..batch.num_rows() {
        let i = idx.value(r);
        let v = val.value(r);
        let i = i
            .as_any()
            .downcast_ref::<UInt32Array>()
            .context("indices: u32")?;
        let v = v
            .as_any()
            .downcast_ref::<Float64Array>()
            .context("values: f64")?;
        for (c, value) in i.values().iter().zip(v.values()) {
            x[[r, *c as usize]] = *value;
        }
    }
    Ok(Features {
        x,
        y: Array1::from(y),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_rows_round_trip_to_dense() {
        let rows = vec![(vec![0, 3], vec![0.5, 1.0]), (vec![2], vec![-0.25])];
        let b = to_batch(&rows, &[1, -1], &[0, 0], 4).unwrap();
        let f = from_batch(&b).unwrap();
        assert_eq!(
            f.x,
            ndarray::array![[0.5, 0.0, 0.0, 1.0], [0.0, 0.0, -0.25, 0.0]]
        );
        assert_eq!(f.y.to_vec(), vec![1.0, -1.0]);
        assert!(to_batch(&[(vec![4], vec![1.0])], &[1], &[0], 4).is_err());
    }
}

//! Arrow tables to and from Parquet, and printing them.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// Writes one batch as Parquet into `w`. Same batch in, same bytes out.
pub fn write_parquet<W: Write + Send>(w: W, batch: &RecordBatch) -> Result<W> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("qa-pipe {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = ArrowWriter::try_new(w, batch.schema(), Some(props))?;
    writer.write(batch)?;
    Ok(writer.into_inner()?)
}

pub fn read_parquet(path: &Path) -> Result<RecordBatch> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("reading Parquet {}", path.display()))?;
    let schema: Arc<Schema> = builder.schema().clone();
    let reader = builder.with_batch_size(64 * 1024).build()?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading Parquet {}", path.display()))?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// The first `head` rows as an ASCII table.
pub fn pretty(batch: &RecordBatch, head: usize) -> Result<String> {
    let shown = batch.slice(0, head.min(batch.num_rows()));
    Ok(arrow::util::pretty::pretty_format_batches(&[shown])?.to_string())
}

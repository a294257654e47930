//! Arrow tables to and from Parquet, and printing them.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema};
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

/// The batch as an ASCII table, floating-point numbers rounded for reading
/// ([`round_for_display`]).
pub fn pretty(batch: &RecordBatch) -> Result<String> {
    let rounded = rounded_floats(batch)?;
    Ok(arrow::util::pretty::pretty_format_batches(&[rounded])?.to_string())
}

/// The batch as CSV with a header row, numbers at full precision.
pub fn csv(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(Vec::new());
    w.write(batch)?;
    Ok(w.into_inner())
}

/// The batch as a JSON array of row objects, numbers at full precision.
pub fn json(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    w.write(batch)?;
    w.finish()?;
    Ok(w.into_inner())
}

/// A float column's values as rounded text, the rest as they are.
fn rounded_floats(batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| -> Result<ArrayRef> {
            let values: Option<Vec<Option<f64>>> = match c.data_type() {
                DataType::Float64 => Some(c.as_primitive::<Float64Type>().iter().collect()),
                DataType::Float32 => Some(
                    c.as_primitive::<Float32Type>()
                        .iter()
                        .map(|v| v.map(f64::from))
                        .collect(),
                ),
                _ => None,
            };
            Ok(match values {
                Some(v) => Arc::new(StringArray::from_iter(
                    v.into_iter().map(|x| x.map(round_for_display)),
                )),
                None => c.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), f.is_nullable()))
        .collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// A number as a table shows it: three decimals from 1 up, four significant digits below
/// (`0.494`, not `0.49400000000000005`; `0.0001235`; `1234.568`), trailing zeros dropped.
pub fn round_for_display(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let text = if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    };
    let r: f64 = text.parse().expect("a formatted float parses");
    // -0.0 after rounding a tiny negative number reads as a sign error.
    format!("{}", if r == 0.0 { 0.0 } else { r })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, Float64Array, Int64Array};

    #[test]
    fn rounds_numbers_for_reading() {
        assert_eq!(round_for_display(0.49400000000000005), "0.494");
        assert_eq!(round_for_display(0.000123456), "0.0001235");
        assert_eq!(round_for_display(1234.56789), "1234.568");
        assert_eq!(round_for_display(2.0), "2");
        assert_eq!(round_for_display(-0.00000000001), "-0.00000000001");
        assert_eq!(round_for_display(-1e-300 * 1e-300), "0");
        assert_eq!(round_for_display(f64::NAN), "NaN");
    }

    #[test]
    fn tables_round_floats_and_leave_the_rest() {
        let b = RecordBatch::try_from_iter([
            (
                "acc",
                Arc::new(Float64Array::from(vec![Some(0.49400000000000005), None])) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float32Array::from(vec![0.1f32, 2.5])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![123456789, 2])) as ArrayRef,
            ),
        ])
        .unwrap();
        let t = pretty(&b).unwrap();
        assert_eq!(
            t,
            "+-------+-----+-----------+\n\
             | acc   | f   | n         |\n\
             +-------+-----+-----------+\n\
             | 0.494 | 0.1 | 123456789 |\n\
             |       | 2.5 | 2         |\n\
             +-------+-----+-----------+"
        );
        let csv = String::from_utf8(csv(&b).unwrap()).unwrap();
        assert_eq!(csv, "acc,f,n\n0.49400000000000005,0.1,123456789\n,2.5,2\n");
    }
}

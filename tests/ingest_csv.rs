//! `ingest_csv` on broken input, through the real binary: every physical line of a CSV ends up
//! in a row or a reject (issue 15, item 7), and a file that is not UTF-8 says so, where, and
//! how to convert it, or is read with the `encoding` param (item 8).

mod common;

use arrow::array::{Array, RecordBatch, UInt64Array};
use common::{strings, Project};

fn lines(b: &RecordBatch) -> Vec<u64> {
    let c = b.column_by_name("line").unwrap();
    let c = c.as_any().downcast_ref::<UInt64Array>().unwrap();
    c.values().to_vec()
}

fn project(train: &[u8], params: &str) -> Project {
    let p = Project::new();
    std::fs::write(p.path("data/train.csv"), train).unwrap();
    p.write(
        "pipelines/d.yaml",
        &format!(
            "stages:\n  data:\n    kind: ingest_csv\n    params: {{train: data/train.csv, test: data/test.csv{params}}}\n"
        ),
    );
    p
}

/// Issue 15 item 7: the quote opened on line 4 never closes, and the csv reader used to read
/// on to the end of the file: one reject at line 4, lines 5-9 gone, exit 0.
#[test]
fn r15_7_an_unbalanced_quote_no_longer_swallows_the_following_lines() {
    let train = "soru,cevap,etiket\n\
        A?,a,+1\n\
        A?,b,-1\n\
        B?,\"tırnağı kapanmayan cevap,+1\n\
        B?,d,-1\n\
        C?,e,+1\n\
        C?,f,-1\n\
        D?,\"g, h\",+1\n\
        D?,i,-1\n";
    let p = project(train.as_bytes(), "");
    let r = p.run(&["run", "pipelines/d.yaml"]).ok();
    let rows = p.table("pipelines/d.yaml", "data", "train");
    assert_eq!(lines(&rows), vec![2, 3, 5, 6, 7, 8, 9], "{}", r.stderr);
    assert_eq!(strings(&rows, "answer")[5], "g, h");
    let rejects = p.table("pipelines/d.yaml", "data", "rejects");
    assert_eq!(lines(&rejects), vec![4]);
    assert!(
        strings(&rejects, "reason")[0].starts_with("unbalanced quote"),
        "{:?}",
        strings(&rejects, "reason")
    );
    assert_eq!(
        strings(&rejects, "raw")[0],
        "B?,\"tırnağı kapanmayan cevap,+1"
    );
    assert!(
        r.stderr
            .contains("data/train.csv:4: row rejected: unbalanced quote"),
        "{}",
        r.stderr
    );
}

/// A quoted field may hold a line break (RFC 4180) when the record it is part of closes and
/// is complete; the row is used, and a note names the lines it spans.
#[test]
fn a_quoted_field_spanning_lines_is_kept_and_noted() {
    let train = "soru,cevap,etiket\nA?,\"iki\nsatır\",+1\nA?,b,-1\n";
    let p = project(train.as_bytes(), "");
    let r = p.run(&["run", "pipelines/d.yaml"]).ok();
    let rows = p.table("pipelines/d.yaml", "data", "train");
    assert_eq!(lines(&rows), vec![2, 4]);
    assert_eq!(strings(&rows, "answer")[0], "iki\nsatır");
    assert!(
        r.stderr
            .contains("data/train.csv:2-3: a quoted field spans 2 lines"),
        "{}",
        r.stderr
    );
}

/// "Türkiye'nin başkenti neresidir?,Ankara'dır.,+1" etc. in Windows-1254: ş = 0xFE, ı = 0xFD,
/// İ = 0xDD, ü = 0xFC.
fn windows_1254_train() -> Vec<u8> {
    let mut b = b"soru,cevap,etiket\n".to_vec();
    b.extend_from_slice(b"T\xfcrkiye'nin ba\xfekenti neresidir?,Ankara'd\xfdr.,+1\n");
    b.extend_from_slice(b"T\xfcrkiye'nin ba\xfekenti neresidir?,\xddstanbul'dur.,-1\n");
    b.extend_from_slice(b"Suyun form\xfcl\xfc nedir?,H2O,+1\n");
    b
}

/// Issue 15 item 8: a Windows-1254 file failed with only "no usable rows".
#[test]
fn r15_8_a_non_utf8_csv_says_which_lines_and_how_to_convert() {
    let p = project(&windows_1254_train(), "");
    let r = p.run(&["run", "pipelines/d.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for want in [
        "data/train.csv is not UTF-8",
        "lines 2, 3, 4",
        "line 2, column 2: byte 0xFC",
        "windows-1254",
        "Türkiye'nin başkenti neresidir?",
        "iconv -f WINDOWS-1254 -t UTF-8 data/train.csv",
        "encoding: windows-1254",
    ] {
        assert!(
            r.stderr.contains(want),
            "missing `{want}` in:\n{}",
            r.stderr
        );
    }
}

#[test]
fn r15_8_the_encoding_param_reads_windows_1254() {
    let p = project(&windows_1254_train(), ", encoding: windows-1254");
    p.run(&["run", "pipelines/d.yaml"]).ok();
    let rows = p.table("pipelines/d.yaml", "data", "train");
    assert_eq!(
        strings(&rows, "question")[0],
        "Türkiye'nin başkenti neresidir?"
    );
    assert_eq!(strings(&rows, "answer")[1], "İstanbul'dur.");
}

#[test]
fn an_unknown_encoding_is_a_located_config_error() {
    let p = project(b"soru,cevap,etiket\nA?,a,+1\n", ", encoding: turkish-dos");
    let r = p.run(&["run", "pipelines/d.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("unknown encoding `turkish-dos`")
            && r.stderr.contains("pipelines/d.yaml:4:"),
        "{}",
        r.stderr
    );
}

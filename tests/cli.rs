//! The command line's conventions through the real binary: shell completions, the man
//! page, `--version`, `show`'s formats and columns, and what `run --json` tells a script.

mod common;

use std::path::Path;
use std::process::Command;

use common::{report_project as project, Project};

#[test]
fn bash_completion_loads_and_completes_subcommands() {
    let p = Project::new();
    let script = p.run(&["completions", "bash"]).ok().stdout;
    p.write("qa-pipe.bash", &script);
    // As bash calls a completion function: the words so far and the index of the one
    // being completed; the candidates come back in COMPREPLY.
    let complete = |words: &str, cword: usize| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source ./qa-pipe.bash || exit 3\n\
                 COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}\n\
                 f=$(complete -p qa-pipe | sed -E 's/.*-F ([^ ]+).*/\\1/') || exit 4\n\
                 \"$f\" qa-pipe \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
                 printf '%s\\n' \"${{COMPREPLY[@]}}\""
            ))
            .current_dir(p.dir.path())
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("qa-pipe ru", 1).trim(), "run\nruns");
    assert_eq!(complete("qa-pipe sta", 1).trim(), "status");
    let all = complete("qa-pipe ''", 1);
    for sub in ["run", "status", "show", "gc", "completions", "man"] {
        assert!(all.lines().any(|l| l == sub), "{sub} missing from\n{all}");
    }
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let p = Project::new();
    for shell in ["zsh", "fish", "powershell"] {
        let out = p.run(&["completions", shell]).ok().stdout;
        assert!(
            out.contains("completions") && out.contains("dry-run"),
            "{shell}:\n{out}"
        );
    }
    let bad = p.run(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// `man` is Debian's man-db; scripts/test.sh sets QA_PIPE_REQUIRE_MAN=1 so CI cannot skip.
fn man_available() -> bool {
    let found = Command::new("man").arg("--version").output().is_ok();
    if !found && std::env::var("QA_PIPE_REQUIRE_MAN").as_deref() == Ok("1") {
        panic!("QA_PIPE_REQUIRE_MAN=1 but `man` is not installed (scripts/setup-test-deps.sh)");
    }
    found
}

fn render_man(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("man");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn man_page_renders() {
    let p = Project::new();
    let roff = p.run(&["man"]).ok().stdout;
    assert!(roff.starts_with(".ie \\n(.g .ds Aq"), "{roff}");
    p.write("qa-pipe.1", &roff);
    p.run(&["man", "--out-dir", "man"]).ok();
    assert!(p.read("man/qa-pipe.1").contains("qa\\-pipe\\-run(1)"));
    assert!(p.path("man/qa-pipe-run.1").is_file());
    if !man_available() {
        eprintln!("skipped rendering: no `man`");
        return;
    }
    let text = render_man(&p.path("qa-pipe.1"));
    for want in [
        "NAME",
        "qa-pipe - Declarative, cached ML experiment pipelines",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "qa-pipe-run(1)",
        "--dir",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    let run = render_man(&p.path("man/qa-pipe-run.1"));
    for want in [
        "--dry-run",
        "--var",
        "Override a pipeline variable",
        "PIPELINE",
    ] {
        assert!(run.contains(want), "{want} missing from\n{run}");
    }
}

#[test]
fn version_names_the_commit_when_built_from_a_checkout() {
    let p = Project::new();
    let v = p.run(&["--version"]).ok().stdout;
    assert!(
        v.starts_with(&format!("qa-pipe {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let manifest = env!("CARGO_MANIFEST_DIR");
    let head = Command::new("git")
        .args(["-C", manifest, "rev-parse", "--short=12", "HEAD"])
        .output();
    match head {
        Ok(h) if h.status.success() && Path::new(manifest).join(".git").exists() => {
            let commit = String::from_utf8(h.stdout).unwrap();
            assert_eq!(
                v.trim(),
                format!("qa-pipe {} ({})", env!("CARGO_PKG_VERSION"), commit.trim())
            );
        }
        _ => assert_eq!(v.trim(), format!("qa-pipe {}", env!("CARGO_PKG_VERSION"))),
    }
}

#[test]
fn run_json_gives_artifacts_report_metrics_and_cached_unit_counts() {
    let p = project();
    let (code, first) = p.run_json(&["pipelines/r.yaml"]);
    assert_eq!(code, 0, "{first}");
    let (code, v) = p.run_json(&["pipelines/r.yaml"]);
    assert_eq!(code, 0, "{v}");
    let stages = v["stages"].as_array().unwrap();
    for s in stages {
        assert_eq!(s["status"], "cached", "{v}");
        let dir = Path::new(s["artifact"].as_str().unwrap());
        assert!(dir.join("manifest.json").is_file(), "{}", dir.display());
        assert_eq!(
            dir,
            p.artifact_dir("pipelines/r.yaml", s["stage"].as_str().unwrap()),
            "{v}"
        );
    }
    let train = stages.iter().find(|s| s["stage"] == "train").unwrap();
    // Regression: a cached stage said `units_total: 0`.
    assert_eq!(train["units_total"], 2, "{v}");
    assert_eq!(train["units_run"], 0, "{v}");
    assert_eq!(first["stages"][2]["units_total"], 2, "{first}");
    let report = v["report"].as_str().unwrap();
    assert_eq!(report, "artifacts/latest/r/report.html");
    assert!(p.path(report).is_file());
    let with_report = stages.iter().find(|s| s["stage"] == "report").unwrap();
    assert_eq!(with_report["report"], report);
    assert_eq!(train["report"], serde_json::Value::Null);
    let names: Vec<&str> = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "test_acc[sgd]",
            "train_mse[sgd]",
            "test_acc[adam]",
            "train_mse[adam]"
        ],
        "{v}"
    );
    assert_eq!(v["metrics"][0]["stage"], "train");
    assert_eq!(v["metrics"], first["metrics"]);
}

#[test]
fn quiet_run_prints_only_the_report_path() {
    let p = project();
    let r = p.run(&["-q", "run", "pipelines/r.yaml"]).ok();
    assert_eq!(r.stdout, "report: artifacts/latest/r/report.html\n");
    assert_eq!(r.stderr, "");
}

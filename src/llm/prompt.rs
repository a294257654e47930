//! Prompt templates: `{name}` placeholders filled from a map of values.
//!
//! A line whose placeholders all render empty is dropped, so optional lines (the
//! study's prompt has `- Sorular şu konulardan olsun: {topics}`) vanish when unset and
//! the rendered prompt is then the study's own prompt, word for word. `{{` and `}}`
//! stand for literal braces.

use std::collections::BTreeMap;

/// The study's prompt (Turkish), from the report; placeholders `{questions}`,
/// `{train_rows}`, `{test_rows}`, `{topics}`.
pub const STUDY_TR_TEMPLATE: &str = include_str!("../../data/prompts/study-tr.txt");

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template line {line}: unknown placeholder {{{name}}}; known: {known}")]
    Unknown {
        line: usize,
        name: String,
        known: String,
    },
    #[error(
        "prompt template line {line}: '{{' without a closing '}}' (write {{{{ for a literal brace)"
    )]
    Unclosed { line: usize },
    #[error("prompt template line {line}: lone '}}' (write }}}} for a literal brace)")]
    LoneClose { line: usize },
}

/// The study's values: `questions` distinct questions, `train_rows` + `test_rows`
/// rows, optional topics (joined with ", ").
pub fn study_vars(
    questions: u32,
    train_rows: u32,
    test_rows: u32,
    topics: &[String],
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("questions".to_string(), questions.to_string()),
        ("train_rows".to_string(), train_rows.to_string()),
        ("test_rows".to_string(), test_rows.to_string()),
        ("topics".to_string(), topics.join(", ")),
    ])
}

/// Fill `template`'s placeholders from `vars`. Every placeholder must be known; extra
/// values are fine.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> Result<String, PromptError> {
    let mut out = String::with_capacity(template.len());
    for (i, line) in template.split_inclusive('\n').enumerate() {
        let (text, all_empty) = render_line(line, i + 1, vars)?;
        if all_empty != Some(true) {
            out.push_str(&text);
        }
    }
    Ok(out)
}

/// Rendered line, and whether every placeholder in it was empty (`None`: it had none).
fn render_line(
    line: &str,
    lineno: usize,
    vars: &BTreeMap<String, String>,
) -> Result<(String, Option<bool>), PromptError> {
    let mut out = String::with_capacity(line.len());
    let mut all_empty = None;
    let mut rest = line;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if tail.starts_with('}') {
            return Err(PromptError::LoneClose { line: lineno });
        } else {
            let end = tail
                .find('}')
                .ok_or(PromptError::Unclosed { line: lineno })?;
            let name = &tail[1..end];
            let value = vars.get(name).ok_or_else(|| PromptError::Unknown {
                line: lineno,
                name: name.to_string(),
                known: vars
                    .keys()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            all_empty = Some(all_empty.unwrap_or(true) && value.trim().is_empty());
            out.push_str(value);
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok((out, all_empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERBATIM: &str = include_str!("../../tests/fixtures/llm/study-prompt-verbatim.txt");

    #[test]
    fn study_numbers_without_topics_give_back_the_report_prompt() {
        let got = render(STUDY_TR_TEMPLATE, &study_vars(50, 100, 100, &[])).unwrap();
        assert_eq!(got, VERBATIM);
    }

    #[test]
    fn topics_and_counts_are_filled_in() {
        let topics = vec!["makine öğrenmesi".to_string(), "istatistik".to_string()];
        let got = render(STUDY_TR_TEMPLATE, &study_vars(10, 20, 6, &topics)).unwrap();
        assert!(got.contains("- 10 farklı soru üret\n"));
        assert!(got.contains("- Sorular şu konulardan olsun: makine öğrenmesi, istatistik\n"));
        assert!(got.contains("Eğitim kümesi için 20 satır üret"));
        assert!(got.contains("test kümesi için ayrı 6 satır üret"));
        assert!(got.contains("eğitim kümesini (20 satır), ardından test kümesini (6 satır)"));
        assert!(!got.contains('{'));
        assert_eq!(got.lines().count(), VERBATIM.lines().count() + 1);
    }

    #[test]
    fn unknown_placeholder_names_line_and_known_ones() {
        let vars = study_vars(1, 2, 2, &[]);
        let err = render("a\nrows: {train_row}\n", &vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "prompt template line 2: unknown placeholder {train_row}; known: {questions}, \
             {test_rows}, {topics}, {train_rows}"
        );
    }

    #[test]
    fn braces_escape_and_unbalanced_braces_fail() {
        let vars = study_vars(1, 2, 3, &[]);
        assert_eq!(
            render("{{\"n\": {questions}}}\n", &vars).unwrap(),
            "{\"n\": 1}\n"
        );
        assert_eq!(
            render("x {questions\n", &vars),
            Err(PromptError::Unclosed { line: 1 })
        );
        assert_eq!(
            render("x }\n", &vars),
            Err(PromptError::LoneClose { line: 1 })
        );
    }

    #[test]
    fn only_lines_with_all_placeholders_empty_are_dropped() {
        let mut vars = study_vars(1, 2, 3, &[]);
        vars.insert("empty".into(), " ".into());
        let got = render("a {topics}\nb {topics}{questions}\nc\n", &vars).unwrap();
        assert_eq!(got, "b 1\nc\n");
    }
}

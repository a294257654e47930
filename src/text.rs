//! Turkish-aware lowercasing, for question keys and TF-IDF tokens.
//!
//! Rust's (and Python's) `to_lowercase` follows Unicode's language-neutral mapping:
//! `I` -> `i` and `İ` -> `i` + U+0307 (a combining dot). Turkish text needs the Turkish
//! rule instead: `I` -> `ı` and `İ` -> `i`, so `IŞIK HIZI NEDİR?` and `ışık hızı nedir?`
//! compare equal and `İstanbul` becomes the one token `istanbul`. The price is that
//! English words in capitals fold the Turkish way too (`FILM` -> `fılm`); qa-pipe's data
//! is Turkish, so that is the rule it picks.

/// `s` lowercased with Turkish dotted/dotless i: `İ` -> `i`, `I` -> `ı`, everything else
/// as `str::to_lowercase`. A U+0307 after an `i` or `I` (a decomposed `İ`, or the output of
/// a language-neutral lowercasing) is dropped, so `i̇stanbul` also becomes `istanbul`.
pub fn turkish_lowercase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            'İ' => out.push('i'),
            'I' | 'i' if chars.peek() == Some(&'\u{307}') => {
                chars.next();
                out.push('i');
            }
            'I' => out.push('ı'),
            _ => out.push(c),
        }
    }
    // No `I`/`İ` is left, so the language-neutral mapping (which also handles final
    // sigma by context) is right for the rest.
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_dotless_i_fold_the_turkish_way() {
        assert_eq!(turkish_lowercase("IŞIK HIZI NEDİR?"), "ışık hızı nedir?");
        assert_eq!(turkish_lowercase("İstanbul"), "istanbul");
        assert_eq!(turkish_lowercase("I\u{307}stanbul"), "istanbul");
        assert_eq!(turkish_lowercase("i\u{307}stanbul"), "istanbul");
        assert_eq!(turkish_lowercase("ÇĞÖŞÜ ıi"), "çğöşü ıi");
        // The language-neutral rule, for contrast.
        assert_eq!("İstanbul".to_lowercase(), "i\u{307}stanbul");
    }
}

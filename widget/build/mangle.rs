//! Shortens the names our own scripts declare (`var`, `let`, `const`, `function` names and parameters,
//! `catch` bindings), a step `minifier` does not take. The loader must fit 3 KB gzipped, and its long,
//! explanatory names are a large part of that.
//!
//! The renaming is by name, not by scope: every declared name gets one short name everywhere it is used as
//! a variable, so shadowing keeps its meaning. That is sound for code that keeps these rules, which the
//! widget's sources do and the build checks where it can:
//! - a name declared anywhere is never also used to reach a global of the same name (globals that are
//!   easy to shadow by accident, like `parent`, `name` or `history`, are in [`KEEP`] and never renamed);
//! - object keys are written `key: value` (no shorthand `{key}`, no methods `{key() {}}`), and there is
//!   no destructuring, no spread, no labels, and no template literal with `${…}` (the build fails on one).
//!
//! A token after `.` is a property and keeps its name; so does one between `{` or `,` and `:` (an object
//! key). The short names avoid every identifier that occurs anywhere in the source.

use minifier::js::{Keyword, ReservedChar, Token, Tokens};
use std::collections::{HashMap, HashSet};

/// Declared names that stay as they are: browser globals a local of the same name could hide.
pub const KEEP: &[&str] = &[
    "arguments",
    "close",
    "console",
    "crypto",
    "document",
    "fetch",
    "frames",
    "history",
    "length",
    "localStorage",
    "location",
    "name",
    "navigator",
    "open",
    "origin",
    "parent",
    "performance",
    "screen",
    "self",
    "sessionStorage",
    "status",
    "top",
    "undefined",
    "window",
];

/// Words a short name must not be: keywords of two letters (longer names are never generated).
const RESERVED_SHORT: &[&str] = &["as", "do", "if", "in", "of"];

/// Renames the declared names in `tokens` (a `minifier` token list without comments or white space).
///
/// # Panics
/// On a template literal with a substitution, which would hide names from the renaming.
pub fn mangle(tokens: Tokens<'_>) -> Tokens<'_> {
    let mut tokens = tokens.0;
    for token in &tokens {
        if let Token::String(text) = token {
            assert!(
                !(text.starts_with('`') && text.contains("${")),
                "template literal with a substitution: {text}"
            );
        }
    }
    let declared = declared_names(&tokens);
    let mut uses: HashMap<&str, usize> = HashMap::new();
    let mut taken: HashSet<String> = HashSet::new();
    for (index, token) in tokens.iter().enumerate() {
        if let Token::Other(name) = token {
            taken.insert((*name).to_owned());
            if declared.contains(name) && is_variable(&tokens, index) {
                *uses.entry(name).or_default() += 1;
            }
        }
    }
    // The most used names get the shortest replacements; ties in a fixed order, so builds are repeatable.
    let mut order: Vec<(&str, usize)> = uses
        .into_iter()
        .filter(|(name, _)| name.len() > 2 && !KEEP.contains(name))
        .collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut fresh = short_names().filter(|short| !taken.contains(short));
    let renames: HashMap<String, &'static str> = order
        .into_iter()
        .map(|(name, _)| {
            let short = fresh.next().expect("enough short names");
            (name.to_owned(), &*Box::leak(short.into_boxed_str()))
        })
        .collect();

    let targets: Vec<usize> = (0..tokens.len())
        .filter(|&index| match &tokens[index] {
            Token::Other(name) => renames.contains_key(*name) && is_variable(&tokens, index),
            _ => false,
        })
        .collect();
    for index in targets {
        if let Token::Other(name) = tokens[index] {
            tokens[index] = Token::Other(renames[name]);
        }
    }
    Tokens(tokens)
}

/// `a`…`z`, `A`…`Z`, then two letters, skipping reserved words.
fn short_names() -> impl Iterator<Item = String> {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let singles: Vec<String> = letters.iter().map(|c| c.to_string()).collect();
    let pairs: Vec<String> = letters
        .iter()
        .flat_map(|a| letters.iter().map(move |b| format!("{a}{b}")))
        .collect();
    singles
        .into_iter()
        .chain(pairs)
        .filter(|name| !RESERVED_SHORT.contains(&name.as_str()))
}

fn is_char(token: Option<&Token<'_>>, wanted: ReservedChar) -> bool {
    matches!(token, Some(Token::Char(c)) if *c == wanted)
}

/// Whether the identifier at `index` names a variable: not a property (`x.name`) nor an object key.
fn is_variable(tokens: &[Token<'_>], index: usize) -> bool {
    let previous = index.checked_sub(1).and_then(|i| tokens.get(i));
    let next = tokens.get(index + 1);
    if is_char(previous, ReservedChar::Dot) {
        return false;
    }
    let after_open_or_comma =
        is_char(previous, ReservedChar::OpenCurlyBrace) || is_char(previous, ReservedChar::Comma);
    !(after_open_or_comma && is_char(next, ReservedChar::Colon))
}

/// Every name declared by `var`/`let`/`const` (each of a comma list), `function` (the name and the
/// parameters) and `catch`.
fn declared_names<'a>(tokens: &[Token<'a>]) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Keyword(Keyword::Var | Keyword::Let | Keyword::Const) => {
                declared_list(tokens, index + 1, &mut names)
            }
            Token::Keyword(Keyword::Function) => {
                let mut at = index + 1;
                if let Some(Token::Other(name)) = tokens.get(at) {
                    names.insert(*name);
                    at += 1;
                }
                parameters(tokens, at, &mut names);
            }
            Token::Keyword(Keyword::Catch) => parameters(tokens, index + 1, &mut names),
            _ => {}
        }
    }
    names
}

/// The names of `var a = …, b, c = …;` starting after the keyword: each name that starts the list or
/// follows a comma outside any brackets of the initialisers.
fn declared_list<'a>(tokens: &[Token<'a>], start: usize, names: &mut HashSet<&'a str>) {
    let mut depth = 0usize;
    let mut expect_name = true;
    for token in &tokens[start..] {
        match token {
            Token::Char(
                ReservedChar::OpenParenthese
                | ReservedChar::OpenBracket
                | ReservedChar::OpenCurlyBrace,
            ) => depth += 1,
            Token::Char(
                ReservedChar::CloseParenthese
                | ReservedChar::CloseBracket
                | ReservedChar::CloseCurlyBrace,
            ) => {
                if depth == 0 {
                    return;
                }
                depth -= 1;
            }
            Token::Char(ReservedChar::SemiColon) if depth == 0 => return,
            Token::Keyword(Keyword::In) if depth == 0 => return,
            Token::Char(ReservedChar::Comma) if depth == 0 => {
                expect_name = true;
                continue;
            }
            Token::Other(name) if expect_name && depth == 0 => {
                names.insert(*name);
            }
            _ => {}
        }
        expect_name = false;
    }
}

/// The names in a parameter list `(a, b)` that starts at `start`.
fn parameters<'a>(tokens: &[Token<'a>], start: usize, names: &mut HashSet<&'a str>) {
    if !is_char(tokens.get(start), ReservedChar::OpenParenthese) {
        return;
    }
    for token in &tokens[start + 1..] {
        match token {
            Token::Other(name) => {
                names.insert(*name);
            }
            Token::Char(ReservedChar::Comma) => {}
            _ => return,
        }
    }
}

//! Shortens the names our own scripts declare (`var`, `let`, `const`, `function` names and parameters,
//! `catch` bindings), a step `minifier` does not take. The loader must fit 3 KB gzipped, and its long,
//! explanatory names are a large part of that.
//!
//! Every declared name gets one short name everywhere it is used as a variable, so shadowing keeps its
//! meaning. That is sound for code that keeps these rules, which the widget's sources do and the build
//! checks where it can:
//! - a name declared anywhere is never also used to reach a global of the same name (globals that are
//!   easy to shadow by accident, like `parent`, `name` or `history`, are in [`KEEP`] and never renamed);
//! - object keys are written `key: value` (no shorthand `{key}`, no methods `{key() {}}`), and there is
//!   no destructuring, no spread, no labels, no arrow functions, no classes, and no template literal with
//!   `${…}` (the build fails on one).
//!
//! A token after `.` is a property and keeps its name; so does one between `{` or `,` and `:` (an object
//! key). The short names avoid every identifier the source uses as a variable (its globals and the names
//! it keeps); property names and object keys do not count, as they never meet a variable.
//!
//! Two names may share a short name when no code can see both: each name belongs to the smallest
//! `function` (parameters and body) that holds all its uses, and two names can share when those functions
//! are apart, or when one lies inside the other and the outer name is not used in the inner function.
//! So the parameters and locals of different functions reuse the same few letters, which gzip likes too.

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

/// Token positions `start..=end`: a function's parameter list and body, or the whole program.
type Extent = (usize, usize);

/// A declared name on its way to a short one: where it is used, and the function that holds those uses.
struct Local<'a> {
    name: &'a str,
    uses: Vec<usize>,
    home: Extent,
}

/// Renames the declared names in `tokens` (a `minifier` token list without comments or white space).
///
/// # Panics
/// On a template literal with a substitution, which would hide names from the renaming, and on a
/// `function` whose parameter list or body is not closed.
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
    let mut functions = function_extents(&tokens);
    functions.push((0, tokens.len()));
    let mut uses: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut taken: HashSet<&str> = HashSet::new();
    for (index, token) in tokens.iter().enumerate() {
        if let Token::Other(name) = token {
            // Properties and object keys live apart from variables: `x.t` does not stop a variable `t`.
            if is_variable(&tokens, index) {
                taken.insert(name);
                if declared.contains(name) {
                    uses.entry(name).or_default().push(index);
                }
            }
        }
    }
    // The most used names get the shortest replacements; ties in a fixed order, so builds are repeatable.
    let mut order: Vec<Local<'_>> = uses
        .into_iter()
        .filter(|(name, _)| name.len() > 2 && !KEEP.contains(name))
        .map(|(name, uses)| {
            let home = home_of(&functions, &uses);
            Local { name, uses, home }
        })
        .collect();
    order.sort_by(|a, b| b.uses.len().cmp(&a.uses.len()).then(a.name.cmp(b.name)));
    let candidates: Vec<String> = short_names()
        .filter(|short| !taken.contains(short.as_str()))
        .collect();
    let mut given: HashMap<usize, Vec<&Local<'_>>> = HashMap::new();
    let mut renames: HashMap<&str, &'static str> = HashMap::new();
    for local in &order {
        let slot = (0..candidates.len())
            .find(|slot| {
                given
                    .get(slot)
                    .is_none_or(|others| others.iter().all(|other| apart(local, other)))
            })
            .expect("enough short names");
        given.entry(slot).or_default().push(local);
        let short: &'static str = Box::leak(candidates[slot].clone().into_boxed_str());
        renames.insert(local.name, short);
    }

    for local in &order {
        for &index in &local.uses {
            tokens[index] = Token::Other(renames[local.name]);
        }
    }
    Tokens(tokens)
}

/// Whether `a` and `b` may share a short name: no code where one is used can see the other.
fn apart(a: &Local<'_>, b: &Local<'_>) -> bool {
    let within = |inner: Extent, outer: Extent| outer.0 <= inner.0 && inner.1 <= outer.1;
    let used_in = |local: &Local<'_>, extent: Extent| {
        local
            .uses
            .iter()
            .any(|&index| extent.0 <= index && index <= extent.1)
    };
    if a.home == b.home {
        false
    } else if a.home.1 < b.home.0 || b.home.1 < a.home.0 {
        true
    } else if within(a.home, b.home) {
        !used_in(b, a.home)
    } else if within(b.home, a.home) {
        !used_in(a, b.home)
    } else {
        false
    }
}

/// The smallest of `functions` that holds every one of `uses`.
fn home_of(functions: &[Extent], uses: &[usize]) -> Extent {
    let first = uses.iter().copied().min().unwrap_or(0);
    let last = uses.iter().copied().max().unwrap_or(0);
    functions
        .iter()
        .copied()
        .filter(|&(start, end)| start <= first && last <= end)
        .min_by_key(|&(start, end)| end - start)
        .expect("the whole program holds every use")
}

/// Every `function`'s extent: from its parameter list's `(` to its body's closing `}`. A declaration's
/// own name stays outside, in the enclosing scope where it is declared.
fn function_extents(tokens: &[Token<'_>]) -> Vec<Extent> {
    let mut extents = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if !matches!(token, Token::Keyword(Keyword::Function)) {
            continue;
        }
        let mut start = index + 1;
        if matches!(tokens.get(start), Some(Token::Other(_))) {
            start += 1;
        }
        let body = closing(
            tokens,
            start,
            ReservedChar::OpenParenthese,
            ReservedChar::CloseParenthese,
        )
        .map(|close| close + 1)
        .expect("a function's parameter list is closed");
        let end = closing(
            tokens,
            body,
            ReservedChar::OpenCurlyBrace,
            ReservedChar::CloseCurlyBrace,
        )
        .expect("a function's body is closed");
        extents.push((start, end));
    }
    extents
}

/// The index of the `close` that matches the `open` at `start` (None when `start` holds no `open`).
fn closing(
    tokens: &[Token<'_>],
    start: usize,
    open: ReservedChar,
    close: ReservedChar,
) -> Option<usize> {
    if !is_char(tokens.get(start), open) {
        return None;
    }
    let mut depth = 0usize;
    for (index, token) in tokens.iter().enumerate().skip(start) {
        if is_char(Some(token), open) {
            depth += 1;
        } else if is_char(Some(token), close) {
            depth -= 1;
            if depth == 0 {
                return Some(index);
            }
        }
    }
    None
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

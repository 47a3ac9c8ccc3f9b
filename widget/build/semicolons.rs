//! Drops the `;` that ends the last statement of a block (`f(a);}` becomes `f(a)}`): before a `}`,
//! JavaScript's automatic semicolon insertion ends the statement anyway. A `;` that is a statement of
//! its own stays: the empty body of `if (…);`, `for (…);`, `while (…);`, `with (…);`, `else;` and `do;`,
//! and one after a `:` (a label's empty statement). The loader is measured in bytes (3 KB gzipped), and
//! this is about one byte in a hundred of it.

use minifier::js::{Keyword, ReservedChar, Token, Tokens};

/// `tokens` (a `minifier` token list without comments or white space) without the redundant `;`s.
pub fn drop_needless_semicolons(tokens: Tokens<'_>) -> Tokens<'_> {
    let tokens = tokens.0;
    let needless: Vec<bool> = (0..tokens.len())
        .map(|at| {
            is_char(tokens.get(at), ReservedChar::SemiColon)
                && is_char(tokens.get(at + 1), ReservedChar::CloseCurlyBrace)
                && !empty_statement(&tokens, at)
        })
        .collect();
    Tokens(
        tokens
            .into_iter()
            .zip(needless)
            .filter_map(|(token, drop)| (!drop).then_some(token))
            .collect(),
    )
}

/// Whether the `;` at `at` is an empty statement (or might be one) rather than the end of one.
fn empty_statement(tokens: &[Token<'_>], at: usize) -> bool {
    match at.checked_sub(1).map(|i| &tokens[i]) {
        None => true,
        Some(Token::Keyword(Keyword::Else | Keyword::Do)) => true,
        Some(Token::Char(ReservedChar::Colon)) => true,
        Some(Token::Char(ReservedChar::CloseParenthese)) => after_statement_head(tokens, at - 1),
        Some(_) => false,
    }
}

/// Whether the `)` at `close` ends the head of `if`, `for`, `while` or `with` (so what follows is
/// that statement's body); an unbalanced `)` counts as one, to be safe.
fn after_statement_head(tokens: &[Token<'_>], close: usize) -> bool {
    let mut depth = 0usize;
    for index in (0..=close).rev() {
        if is_char(tokens.get(index), ReservedChar::CloseParenthese) {
            depth += 1;
        } else if is_char(tokens.get(index), ReservedChar::OpenParenthese) {
            depth -= 1;
            if depth == 0 {
                return matches!(
                    index.checked_sub(1).map(|i| &tokens[i]),
                    Some(Token::Keyword(Keyword::If | Keyword::For | Keyword::While))
                        | Some(Token::Other("with"))
                );
            }
        }
    }
    true
}

fn is_char(token: Option<&Token<'_>>, wanted: ReservedChar) -> bool {
    matches!(token, Some(Token::Char(c)) if *c == wanted)
}

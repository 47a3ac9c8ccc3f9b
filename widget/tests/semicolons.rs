//! The build's semicolon trimming (build/semicolons.rs): which `;` before a `}` go, and which must stay.

#[path = "../build/semicolons.rs"]
mod semicolons;

fn trimmed(source: &str) -> String {
    minifier::js::simple_minify(source)
        .expect("tokenises")
        .apply(minifier::js::clean_tokens)
        .apply(semicolons::drop_needless_semicolons)
        .to_string()
}

#[test]
fn the_last_statement_of_a_block_loses_its_semicolon() {
    assert_eq!(
        trimmed("function f(a) { g(a); return a.b(1); }"),
        "function f(a){g(a);return a.b(1)}"
    );
    assert_eq!(
        trimmed("var o = function () { x = 1; }; if (y) { z(); }"),
        "var o=function(){x=1};if(y){z()}"
    );
    assert_eq!(trimmed("try { a(); } catch (e) {}"), "try{a()}catch(e){}");
}

#[test]
fn empty_statements_keep_their_semicolon() {
    for source in [
        "function f() { if (a(b)) ; }",
        "function f() { for (i = 0; i < n(); i++) ; }",
        "function f() { while (next()) ; }",
        "function f() { if (a) b(); else ; }",
        "function f() { do ; while (a); }",
        "function f() { label: ; }",
    ] {
        let out = trimmed(source);
        assert!(out.ends_with(";}"), "{source} -> {out}");
    }
}

#[test]
fn strings_and_regular_expressions_are_left_alone() {
    assert_eq!(
        trimmed(r#"function f() { return ";}" + /;}/.source; }"#),
        r#"function f(){return";}"+/;}/.source}"#
    );
}

//! The build's name shortening (build/mangle.rs), on small programs: which names change and which must not.

#[path = "../build/mangle.rs"]
mod mangle;

fn mangled(source: &str) -> String {
    minifier::js::simple_minify(source)
        .expect("tokenises")
        .apply(minifier::js::clean_tokens)
        .apply(mangle::mangle)
        .to_string()
}

#[test]
fn declared_names_get_short_names_consistently() {
    let out = mangled(
        "var counter = 0, limit = 3; function bump(step) { counter += step; return counter < limit; }",
    );
    assert!(!out.contains("counter") && !out.contains("limit") && !out.contains("bump"));
    assert!(!out.contains("step"), "{out}");
    // Same program shape, shorter names: `var a=0,b=3;function c(d){a+=d;return a<b;}` up to naming.
    assert_eq!(out.matches("function ").count(), 1);
    assert_eq!(
        out.len(),
        "var a=0,b=3;function c(d){a+=d;return a<b;}".len(),
        "{out}"
    );
}

#[test]
fn properties_object_keys_and_globals_keep_their_names() {
    let out = mangled(
        "var message = {type: 1, message: 2}; var type = message.type; \
         function show(text) { document.title = text ? message : type; location.href = text; }",
    );
    assert!(out.contains("{type:1,message:2}"), "{out}");
    assert!(out.contains(".type"), "{out}");
    assert!(
        out.contains("document.title") && out.contains("location.href"),
        "{out}"
    );
    // In a conditional the names are variables, not keys.
    assert!(!out.contains("?message:type"), "{out}");
}

#[test]
fn names_that_may_shadow_globals_and_short_names_stay() {
    let out = mangled(
        "function f(parent, name, history, e, ab) { return parent + name + history + e + ab; }",
    );
    assert!(out.contains("parent+name+history+e+ab"), "{out}");
}

#[test]
fn short_names_never_collide_with_names_in_the_source() {
    let out = mangled("var a = 1, b = 2, somethingLong = 3; window.c = somethingLong;");
    assert!(!out.contains("somethingLong"));
    let short: String = out
        .trim_start_matches("var a=1,b=2,")
        .chars()
        .take_while(|c| *c != '=')
        .collect();
    assert!(
        !["a", "b", "c", "window"].contains(&short.as_str()),
        "{out}"
    );
}

#[test]
#[should_panic(expected = "template literal")]
fn template_substitutions_are_refused() {
    mangled("var value = 1; var text = `${value}`;");
}

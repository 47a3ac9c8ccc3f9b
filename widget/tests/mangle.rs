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
fn short_names_never_collide_with_variables_in_the_source() {
    let out = mangled("var a = 1, b = 2, somethingLong = 3; c(somethingLong);");
    assert!(!out.contains("somethingLong"));
    let short: String = out
        .trim_start_matches("var a=1,b=2,")
        .chars()
        .take_while(|c| *c != '=')
        .collect();
    assert!(!["a", "b", "c"].contains(&short.as_str()), "{out}");
}

#[test]
fn property_names_do_not_use_up_short_names() {
    // `a` is only ever a property here, so the variable may be called `a`.
    assert_eq!(
        mangled("var somethingLong = 3; thing.a = somethingLong;"),
        "var a=3;thing.a=a;"
    );
}

#[test]
fn locals_of_separate_functions_share_short_names() {
    let out = mangled(
        "function first(alpha) { return alpha + 1; } function second(beta) { return beta * 2; } \
         first(second(3));",
    );
    // Neither body uses the functions' names, so even those letters are free in there.
    assert_eq!(
        out,
        "function a(a){return a+1;}function b(a){return a*2;}a(b(3));"
    );
}

#[test]
fn a_local_never_hides_an_outer_name_it_uses() {
    let out = mangled("var outer = 1; function fn(inner) { return inner + outer; } fn(2);");
    assert_eq!(out, "var b=1;function fn(a){return a+b;}fn(2);");
    // A nested function that uses its parent's parameter.
    let out = mangled(
        "function make(first) { return function (second) { return first + second; }; } make(1)(2);",
    );
    assert_eq!(
        out,
        "function a(a){return function(b){return a+b;};}a(1)(2);"
    );
}

#[test]
fn a_local_may_reuse_an_outer_name_it_does_not_use() {
    // Inside `fn`, `a` is the parameter; outside, the variable: as the source meant.
    assert_eq!(
        mangled("var outer = 1; function fn(inner) { return inner; } fn(outer);"),
        "var a=1;function fn(a){return a;}fn(a);"
    );
    // A function's own name belongs to the scope around it, so its body cannot hide it.
    assert_eq!(
        mangled("function again(count) { return count ? again(count - 1) : 0; } again(3);"),
        "function a(b){return b?a(b-1):0;}a(3);"
    );
}

#[test]
#[should_panic(expected = "template literal")]
fn template_substitutions_are_refused() {
    mangled("var value = 1; var text = `${value}`;");
}

/// A program full of shadowing and reuse, run by Node before and after: the same output.
#[test]
fn mangled_programs_compute_the_same() {
    let source = "var total = 0, label = 'sum'; \
        function addTo(amount) { total += amount; return total; } \
        function twice(value) { var doubled = value * 2; return addTo(doubled); } \
        function counter(start) { var current = start; \
          return function (step) { current += step; return current + total; }; } \
        function outerOnly(input) { function inner(input) { return input + 1; } return inner(input) * 10; } \
        var tick = counter(5); \
        var parts = [twice(3), tick(1), tick(2), outerOnly(4), label, addTo(1)]; \
        [1, 2].forEach(function (item) { var copy = item; parts.push(copy + total); }); \
        try { missing(); } catch (problem) { parts.push(typeof problem); } \
        console.log(JSON.stringify(parts));";
    let run = |program: &str| {
        std::process::Command::new("node")
            .args(["-e", program])
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let Some(expected) = run(source) else {
        println!("note: skipped, `node` is not available");
        return;
    };
    let out = mangled(source);
    assert!(!out.contains("total") && !out.contains("current"), "{out}");
    assert_eq!(run(&out).as_deref(), Some(expected.as_str()), "{out}");
    assert!(expected.starts_with('['), "{expected}");
}

//! A site's canned responses page: the list, and one form that adds a response or edits the one
//! picked from the list. Operators insert a response in the chat composer by typing `/shortcut`
//! and Tab.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// One saved response in the list.
pub struct CannedItem<'a> {
    /// Its id (for the edit link and the delete form).
    pub id: &'a str,
    /// The shortcut, without the slash.
    pub shortcut: &'a str,
    /// The text it inserts.
    pub body: &'a str,
}

/// The add/edit form: what was typed, and each field's problem after a refused submission.
#[derive(Default)]
pub struct CannedFormView<'a> {
    /// The response being edited, or `None` for the "add" form.
    pub editing: Option<&'a str>,
    /// The shortcut as typed.
    pub shortcut: &'a str,
    /// The body as typed.
    pub body: &'a str,
    /// Why the shortcut was refused.
    pub shortcut_error: Option<&'a str>,
    /// Why the body was refused.
    pub body_error: Option<&'a str>,
}

/// Everything the canned responses page shows.
pub struct CannedView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token (every form carries it).
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Site id.
    pub site_id: &'a str,
    /// Site name.
    pub site_name: &'a str,
    /// The site's responses, by shortcut.
    pub items: Vec<CannedItem<'a>>,
    /// The form.
    pub form: CannedFormView<'a>,
    /// A line confirming the last change ("Saved.", "Deleted."), if any.
    pub notice: Option<&'a str>,
}

/// Where a site's canned responses page lives.
pub fn canned_path(site_id: &str) -> String {
    format!("/console/sites/{site_id}/canned")
}

/// The canned responses page.
pub fn canned_responses(v: &CannedView<'_>) -> Markup {
    let frame = Frame {
        title: "Canned responses",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    let base = canned_path(v.site_id);
    let f = &v.form;
    let action = match f.editing {
        Some(id) => format!("{base}/{id}"),
        None => base.clone(),
    };
    page(
        &frame,
        html! {
            section.card #canned {
                h1 { "Canned responses · " (v.site_name) }
                p.lead { "Saved replies for the chat composer: type " code { "/shortcut" }
                    " and press Tab in " a href="/console/chats" { "Chats" } " to insert the text." }
                @if let Some(notice) = v.notice { p.saved role="status" { (notice) } }
                @if v.items.is_empty() {
                    p.empty id="canned-empty" { "No canned responses yet. Add the first one below." }
                } @else {
                    table.canned-list id="canned-list" {
                        thead { tr { th scope="col" { "Shortcut" } th scope="col" { "Text" } th scope="col" { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for item in &v.items {
                                tr data-canned-id=(item.id) class=[(f.editing == Some(item.id)).then_some("editing")] {
                                    td.shortcut { code { "/" (item.shortcut) } }
                                    td.canned-body { (item.body) }
                                    td.row-actions {
                                        a.button-link href={ (base) "/" (item.id) "/edit#canned-form" }
                                            aria-label={ "Edit /" (item.shortcut) } { "Edit" }
                                        form.inline method="post" action={ (base) "/" (item.id) "/delete" } {
                                            input type="hidden" name="csrf" value=(v.csrf);
                                            button.danger type="submit" aria-label={ "Delete /" (item.shortcut) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card #canned-form {
                h2 { @if f.editing.is_some() { "Edit canned response" } @else { "Add a canned response" } }
                form.aligned method="post" action=(action) novalidate {
                    input type="hidden" name="csrf" value=(v.csrf);
                    div.row {
                        label for="canned-shortcut" { span.lt { "Shortcut" } }
                        div.field {
                            input id="canned-shortcut" name="shortcut" value=(f.shortcut) maxlength="33"
                                required placeholder="e.g. hours" autocomplete="off"
                                aria-describedby="canned-shortcut-help canned-shortcut-error"
                                aria-invalid=[f.shortcut_error.map(|_| "true")];
                            small.help id="canned-shortcut-help" { "1 to 32 of a–z, 0–9, - and _; typed as /shortcut." }
                            @if let Some(e) = f.shortcut_error { p.field-error id="canned-shortcut-error" role="alert" { "Shortcut " (e) } }
                        }
                    }
                    div.row {
                        label for="canned-body" { span.lt { "Text" } }
                        div.field {
                            textarea id="canned-body" name="body" rows="4" maxlength="4000" required
                                aria-describedby="canned-body-error"
                                aria-invalid=[f.body_error.map(|_| "true")] { (f.body) }
                            @if let Some(e) = f.body_error { p.field-error id="canned-body-error" role="alert" { "Text " (e) } }
                        }
                    }
                    div.form-actions {
                        button type="submit" { @if f.editing.is_some() { "Save changes" } @else { "Add response" } }
                        @if f.editing.is_some() { " " a href=(base) { "Cancel" } }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\"><script>alert(1)</script>";

    fn view<'a>(items: Vec<CannedItem<'a>>, form: CannedFormView<'a>) -> CannedView<'a> {
        CannedView {
            nonce: "n",
            csrf: "tok",
            operator_name: HOSTILE,
            site_id: "s1",
            site_name: HOSTILE,
            items,
            form,
            notice: None,
        }
    }

    #[test]
    fn lists_responses_escaped_with_edit_links_and_csrf_delete_forms() {
        let html = canned_responses(&view(
            vec![CannedItem {
                id: "c1",
                shortcut: "hours",
                body: HOSTILE,
            }],
            CannedFormView::default(),
        ))
        .into_string();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("/console/sites/s1/canned/c1/edit"));
        assert!(html.contains(r#"action="/console/sites/s1/canned/c1/delete""#));
        assert!(html.contains(r#"action="/console/sites/s1/canned""#));
        assert_eq!(html.matches(r#"name="csrf" value="tok""#).count(), 3);
        assert!(html.contains("Add a canned response"));
    }

    #[test]
    fn errors_show_next_to_their_field_and_editing_posts_to_the_response() {
        let html = canned_responses(&view(
            vec![],
            CannedFormView {
                editing: Some("c9"),
                shortcut: "no spaces",
                body: "",
                shortcut_error: Some("must be <short>"),
                body_error: Some("is empty"),
            },
        ))
        .into_string();
        assert!(html.contains(r#"action="/console/sites/s1/canned/c9""#));
        assert!(html
            .contains(r#"id="canned-shortcut-error" role="alert">Shortcut must be &lt;short&gt;"#));
        assert!(html.contains(r#"id="canned-body-error" role="alert">Text is empty"#));
        assert!(html.contains("Save changes"));
    }
}

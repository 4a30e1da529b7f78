//! The page model the templates render (`templates/*.html`, compiled into the binary by
//! askama, escaping every value), and the chrome around every page.

use askama::Template;

use crate::table::Cell;

/// Header, navigation and footer texts of a page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// `<html lang>`.
    pub lang: &'static str,
    /// Whether a user is signed in (navigation and sign-out shown).
    pub signed_in: bool,
    /// The user's name (token subject or application).
    pub user: String,
    /// Navigation.
    pub nav: Vec<Link>,
    /// Language switcher.
    pub langs: Vec<Link>,
    /// Texts.
    pub skip: String,
    /// Navigation landmark label.
    pub nav_label: String,
    /// Language list label.
    pub lang_label: String,
    /// Sign-out button.
    pub signout: String,
    /// Footer line.
    pub footer: String,
}

/// A link in the chrome.
#[derive(Debug, Clone)]
pub struct Link {
    /// Target.
    pub href: String,
    /// Text.
    pub label: String,
    /// The current page or language.
    pub current: bool,
    /// For language links, the language's tag.
    pub hreflang: &'static str,
}

/// Everything a page shows between the chrome.
#[derive(Debug, Clone, Default)]
pub struct PageView {
    /// `<title>`.
    pub title: String,
    /// `<h1>`.
    pub heading: String,
    /// A sentence under it.
    pub lead: Option<String>,
    /// Notices (a stale catalog, a section left out for lack of a role).
    pub notices: Vec<String>,
    /// Key figures.
    pub facts: Vec<Fact>,
    /// The filter form.
    pub filters: Option<Filters>,
    /// Charts: caption and SVG.
    pub charts: Vec<(String, String)>,
    /// Tables.
    pub sections: Vec<SectionView>,
}

/// A key figure.
#[derive(Debug, Clone)]
pub struct Fact {
    /// What it is.
    pub label: String,
    /// Its value, localized.
    pub value: String,
    /// Where it leads.
    pub href: Option<String>,
}

impl Fact {
    /// A figure without a link.
    pub fn new(label: String, value: String) -> Self {
        Self {
            label,
            value,
            href: None,
        }
    }
}

/// The filter form of a page (GET, so a filtered view is a URL to share).
#[derive(Debug, Clone)]
pub struct Filters {
    /// The page's path.
    pub action: String,
    /// The form's accessible name.
    pub label: String,
    /// Fields.
    pub fields: Vec<Field>,
    /// Hidden parameters kept (sort order, language).
    pub hidden: Vec<(String, String)>,
    /// Button text.
    pub apply: String,
    /// Reset link text.
    pub reset: String,
    /// The page without filters.
    pub reset_href: String,
}

/// A filter field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Query parameter.
    pub name: &'static str,
    /// Label.
    pub label: String,
    /// `select`, `check`, `text` or `number`.
    pub kind: &'static str,
    /// Current value (text, number).
    pub value: String,
    /// Current state (check).
    pub checked: bool,
    /// Choices (select).
    pub options: Vec<Choice>,
}

/// A choice of a select field.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Value sent.
    pub value: String,
    /// Text shown.
    pub label: String,
    /// Currently chosen.
    pub selected: bool,
}

/// A table as shown: headings with sort links, this page's rows, exports.
#[derive(Debug, Clone)]
pub struct SectionView {
    /// Table key (anchors, ids).
    pub key: &'static str,
    /// Heading.
    pub title: String,
    /// How many rows the filters select, localized.
    pub count: String,
    /// Column headings.
    pub headers: Vec<Header>,
    /// The rows of this page.
    pub rows: Vec<RowView>,
    /// Export links: text and target.
    pub exports: Vec<(String, String)>,
    /// Text when there are no rows.
    pub empty: String,
    /// The next page's link, when there are more rows.
    pub more: Option<(String, String)>,
}

/// A column heading.
#[derive(Debug, Clone)]
pub struct Header {
    /// Text.
    pub label: String,
    /// The sort link.
    pub href: String,
    /// `ascending`, `descending` or `none`.
    pub aria_sort: &'static str,
    /// ` ▲`, ` ▼` or nothing.
    pub arrow: &'static str,
    /// Right-aligned.
    pub numeric: bool,
}

/// A row as shown.
#[derive(Debug, Clone)]
pub struct RowView {
    /// Cells.
    pub cells: Vec<Cell>,
}

/// A full page.
#[derive(Template)]
#[template(path = "page.html")]
pub struct PageHtml<'a> {
    /// Chrome.
    pub chrome: &'a Chrome,
    /// Content.
    pub page: &'a PageView,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInHtml<'a> {
    /// Chrome.
    pub chrome: &'a Chrome,
    /// Heading.
    pub heading: String,
    /// Explanation.
    pub lead: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The field's label.
    pub label: String,
    /// Where to go after signing in.
    pub next: String,
    /// Button text.
    pub submit: String,
    /// How to get a token.
    pub hint: String,
}

//! The streaming CVRF 1.1 reader.
//!
//! An MSRC document is up to 10 MB of XML, most of it HTML notes kbgap never uses. The reader walks
//! quick-xml events with one reused buffer, keeps a stack of the element kinds it is inside, and
//! copies text only for the few leaf elements it needs. Nothing else is decoded or kept, so a
//! document costs roughly what decompressing and tokenising it costs.
//!
//! Elements are matched by local name (`cvrf:ID`, `vuln:CVE`, `prod:FullProductName`): the
//! prefixes are conventional and MSRC has used them consistently, but nothing depends on them.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use kbgap_core::document::DocProduct;
use kbgap_core::{
    Document, DocumentInfo, ExploitStatus, Impact, ProductId, Revision, Severity, VendorFix,
    VulnId, Vulnerability,
};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::CatalogError;
use crate::position::Tracker;
use crate::source::{self, classify_io};
use crate::text::clean_into;
use crate::value;

/// Reads one CVRF document from `input`, which may be plain XML, gzip or zstd (decided by its
/// first bytes), with or without a UTF-8 byte order mark. `source` names the input in errors.
pub fn read_document<R: Read>(input: R, source: &str) -> Result<Document, CatalogError> {
    let stream = source::open(input, source)?;
    Parser::new(source).run(Tracker::new(stream))
}

/// Reads one CVRF document from memory (see [`read_document`]).
pub fn read_bytes(bytes: &[u8], source: &str) -> Result<Document, CatalogError> {
    read_document(bytes, source)
}

/// Reads one CVRF document file (see [`read_document`]); errors name the path as given.
pub fn read_path(path: &Path) -> Result<Document, CatalogError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| open_error(e, &name))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        let error = io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a folder, not a document file",
        );
        return Err(CatalogError::Io { input: name, error });
    }
    read_document(file, &name)
}

/// File name endings of CVRF documents, as found when listing a folder.
const DOCUMENT_SUFFIXES: [&str; 5] = [".xml", ".xml.gz", ".xml.zst", ".gz", ".zst"];

/// Expands import arguments: files are kept as given (whatever their name: the content decides),
/// folders are replaced by their `.xml`, `.gz` and `.zst` files (not recursively), sorted by name.
///
/// A missing path, or a folder without any document, is an error: importing nothing silently
/// would look like success.
pub fn collect_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CatalogError> {
    let mut out = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| open_error(e, &name))?;
        if !meta.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| open_error(e, &name))?;
        for entry in entries {
            let entry = entry.map_err(|e| open_error(e, &name))?;
            let file_name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            if !DOCUMENT_SUFFIXES.iter().any(|s| file_name.ends_with(s)) {
                continue;
            }
            // Follows symlinks: a link to a document is a document.
            if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
                found.push(entry.path());
            }
        }
        if found.is_empty() {
            return Err(CatalogError::NoDocuments { input: name });
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn open_error(e: io::Error, name: &str) -> CatalogError {
    if e.kind() == io::ErrorKind::NotFound {
        CatalogError::NotFound {
            input: name.to_owned(),
        }
    } else {
        CatalogError::Io {
            input: name.to_owned(),
            error: e,
        }
    }
}

/// The quick-xml reader over a position-tracking stream.
type Xml<R> = Reader<Tracker<R>>;

/// The elements the reader distinguishes; everything else is [`Tag::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Root,
    DocumentTitle,
    DocumentTracking,
    Identification,
    Id,
    Version,
    RevisionHistory,
    Revision,
    Number,
    InitialReleaseDate,
    CurrentReleaseDate,
    ProductTree,
    Branch,
    FullProductName,
    Vulnerability,
    Title,
    Cve,
    ProductStatuses,
    Status,
    ProductId,
    Threats,
    Threat,
    Description,
    CvssScoreSets,
    ScoreSet,
    BaseScore,
    Vector,
    Date,
    Remediations,
    Remediation,
    Url,
    Supercedence,
    FixedBuild,
    SubType,
    Other,
}

impl Tag {
    fn from_local(name: &[u8]) -> Tag {
        match name {
            b"cvrfdoc" => Tag::Root,
            b"DocumentTitle" => Tag::DocumentTitle,
            b"DocumentTracking" => Tag::DocumentTracking,
            b"Identification" => Tag::Identification,
            b"ID" => Tag::Id,
            b"Version" => Tag::Version,
            b"RevisionHistory" => Tag::RevisionHistory,
            b"Revision" => Tag::Revision,
            b"Number" => Tag::Number,
            b"InitialReleaseDate" => Tag::InitialReleaseDate,
            b"CurrentReleaseDate" => Tag::CurrentReleaseDate,
            b"ProductTree" => Tag::ProductTree,
            b"Branch" => Tag::Branch,
            b"FullProductName" => Tag::FullProductName,
            b"Vulnerability" => Tag::Vulnerability,
            b"Title" => Tag::Title,
            b"CVE" => Tag::Cve,
            b"ProductStatuses" => Tag::ProductStatuses,
            b"Status" => Tag::Status,
            b"ProductID" => Tag::ProductId,
            b"Threats" => Tag::Threats,
            b"Threat" => Tag::Threat,
            b"Description" => Tag::Description,
            b"CVSSScoreSets" => Tag::CvssScoreSets,
            b"ScoreSet" => Tag::ScoreSet,
            b"BaseScore" => Tag::BaseScore,
            b"Vector" => Tag::Vector,
            b"Date" => Tag::Date,
            b"Remediations" => Tag::Remediations,
            b"Remediation" => Tag::Remediation,
            b"URL" => Tag::Url,
            b"Supercedence" => Tag::Supercedence,
            b"FixedBuild" => Tag::FixedBuild,
            b"SubType" => Tag::SubType,
            _ => Tag::Other,
        }
    }
}

/// The leaf values the reader keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    DocumentTitle,
    DocumentId,
    Version,
    RevisionNumber,
    InitialRelease,
    CurrentRelease,
    ProductName,
    VulnTitle,
    Cve,
    AffectedProduct,
    ThreatDescription,
    ThreatProduct,
    BaseScore,
    ScoreVector,
    ScoreProduct,
    VulnRevisionDate,
    FixDescription,
    FixUrl,
    FixSupercedence,
    FixProduct,
    FixFixedBuild,
    FixSubType,
}

/// Which `Threat` types the reader keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreatType {
    Severity,
    Impact,
    ExploitStatus,
}

/// A `Threat` being read: its type, description and products.
struct ThreatBuilder {
    kind: ThreatType,
    text: Option<String>,
    products: Vec<ProductId>,
}

/// A `ScoreSet` being read.
#[derive(Default)]
struct ScoreBuilder {
    /// The `BaseScore` text, as written.
    base: Option<String>,
    vector: Option<String>,
    products: Vec<ProductId>,
}

/// A `Vendor Fix` remediation being read.
#[derive(Default)]
struct FixBuilder {
    kb: Option<kbgap_core::KbId>,
    url: Option<String>,
    supersedes: Vec<kbgap_core::KbId>,
    products: Vec<ProductId>,
    fixed_build: Option<String>,
    sub_type: Option<String>,
}

/// A vulnerability being read.
#[derive(Default)]
struct VulnBuilder {
    cve: Option<String>,
    title: Option<String>,
    known_affected: Vec<ProductId>,
    severities: Vec<(ProductId, Severity)>,
    unscoped_severity: Option<Severity>,
    scores: Vec<(ProductId, f32)>,
    unscoped_score: Option<f32>,
    vectors: Vec<(ProductId, String)>,
    unscoped_vector: Option<String>,
    impacts: Vec<(ProductId, Impact)>,
    unscoped_impact: Option<Impact>,
    exploit: Option<ExploitStatus>,
    /// The earliest date of the vulnerability's own revision history.
    published: Option<String>,
    fixes: Vec<VendorFix>,
    /// Fixes without any ProductID: they apply to every Known Affected product.
    unscoped_fixes: Vec<usize>,
}

impl VulnBuilder {
    fn finish(mut self) -> Option<Vulnerability> {
        // Ids such as "CVE-2023-38039 mariner - do not use this one" or "CVE-2022-2601-M" are not
        // vulnerability ids; MSRC lists them only for CBL-Mariner packages, never with a KB.
        let id: VulnId = self.cve?.parse().ok()?;
        if let Some(sev) = self.unscoped_severity {
            for p in &self.known_affected {
                if !self.severities.iter().any(|(q, _)| q == p) {
                    self.severities.push((p.clone(), sev));
                }
            }
        }
        if let Some(score) = self.unscoped_score {
            scope_all(&mut self.scores, &self.known_affected, score);
        }
        if let Some(vector) = self.unscoped_vector.take() {
            scope_all(&mut self.vectors, &self.known_affected, vector);
        }
        if let Some(impact) = self.unscoped_impact {
            scope_all(&mut self.impacts, &self.known_affected, impact);
        }
        for &i in &self.unscoped_fixes {
            if let Some(fix) = self.fixes.get_mut(i) {
                fix.products = self.known_affected.clone();
            }
        }
        Some(Vulnerability {
            id,
            title: self.title.unwrap_or_default(),
            severities: self.severities,
            scores: self.scores,
            vectors: self.vectors,
            impacts: self.impacts,
            exploit: self.exploit,
            published: self.published,
            fixes: self.fixes,
        })
    }
}

/// Gives `value` to every Known Affected product that has none yet (CVRF 1.1: a value without
/// ProductID applies to all of them).
fn scope_all<T: Clone>(values: &mut Vec<(ProductId, T)>, affected: &[ProductId], value: T) {
    for p in affected {
        if !values.iter().any(|(q, _)| q == p) {
            values.push((p.clone(), value.clone()));
        }
    }
}

/// Parser state: where we are, and what has been collected.
struct Parser<'s> {
    source: &'s str,
    stack: Vec<Tag>,
    /// Qualified names of the open elements, concatenated, for "not closed" messages.
    names: Vec<u8>,
    name_ends: Vec<usize>,
    /// The field whose text is being collected, and the depth of its element.
    capture: Option<(Field, usize)>,
    raw: String,
    text: String,

    id: Option<String>,
    title: Option<String>,
    version: Option<String>,
    revisions: Vec<String>,
    initial_release: Option<String>,
    current_release: Option<String>,

    products: Vec<DocProduct>,
    product_index: HashMap<ProductId, usize>,
    /// For each open `Branch`: its name when it is a `Product Family` branch.
    branches: Vec<Option<String>>,
    product_id: Option<ProductId>,

    vulnerabilities: Vec<Vulnerability>,
    vuln: Option<VulnBuilder>,
    known_affected_status: bool,
    threat: Option<ThreatBuilder>,
    score: Option<ScoreBuilder>,
    /// Data problems that lose one value, never the document (a score that is not a number).
    warnings: Vec<String>,
    fix: Option<FixBuilder>,
}

/// What the event loop does after an event.
enum Flow {
    Continue,
    Done,
}

impl<'s> Parser<'s> {
    fn new(source: &'s str) -> Self {
        Self {
            source,
            stack: Vec::with_capacity(16),
            names: Vec::with_capacity(256),
            name_ends: Vec::with_capacity(16),
            capture: None,
            raw: String::new(),
            text: String::new(),
            id: None,
            title: None,
            version: None,
            revisions: Vec::new(),
            initial_release: None,
            current_release: None,
            products: Vec::new(),
            product_index: HashMap::new(),
            branches: Vec::new(),
            product_id: None,
            vulnerabilities: Vec::new(),
            vuln: None,
            known_affected_status: false,
            threat: None,
            score: None,
            warnings: Vec::new(),
            fix: None,
        }
    }

    fn run<R: Read>(mut self, input: Tracker<R>) -> Result<Document, CatalogError> {
        let mut reader = Reader::from_reader(input);
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut seen_root = false;
        loop {
            reader.get_mut().mark();
            let event = match reader.read_event_into(&mut buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(&reader, e)),
            };
            let flow = match event {
                Event::Start(e) => {
                    self.check_root(&mut seen_root, &e)?;
                    self.start(&reader, &e)?;
                    Flow::Continue
                }
                Event::Empty(e) => {
                    self.check_root(&mut seen_root, &e)?;
                    self.start(&reader, &e)?;
                    self.end()
                }
                Event::End(_) => self.end(),
                Event::Text(t) => {
                    if self.capture.is_some() {
                        let s = std::str::from_utf8(&t).map_err(|_| self.invalid_utf8(&reader))?;
                        self.raw.push_str(s);
                    } else if !seen_root && !t.iter().all(u8::is_ascii_whitespace) {
                        return Err(
                            self.error_at(&reader, "text before the root element".to_owned())
                        );
                    }
                    Flow::Continue
                }
                Event::CData(t) => {
                    if self.capture.is_some() {
                        let s = std::str::from_utf8(&t).map_err(|_| self.invalid_utf8(&reader))?;
                        self.raw.push_str(s);
                    }
                    Flow::Continue
                }
                Event::GeneralRef(r) => {
                    if self.capture.is_some() {
                        self.push_reference(&reader, &r)?;
                    }
                    Flow::Continue
                }
                Event::Eof => {
                    if !seen_root {
                        return Err(CatalogError::NotCvrf {
                            input: self.source.to_owned(),
                            reason: "no root element".to_owned(),
                        });
                    }
                    let open = self.open_element_name();
                    let around = match self.stack.len().saturating_sub(1) {
                        0 => "is not closed".to_owned(),
                        1 => "and the element around it are not closed".to_owned(),
                        n => format!("and the {n} elements around it are not closed"),
                    };
                    return Err(self.error_at(
                        &reader,
                        format!("unexpected end of file: <{open}> {around}"),
                    ));
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {
                    Flow::Continue
                }
            };
            if let Flow::Done = flow {
                break;
            }
            buf.clear();
        }
        self.finish()
    }

    /// Refuses a document whose first element is not `cvrfdoc`.
    fn check_root(&self, seen_root: &mut bool, e: &BytesStart<'_>) -> Result<(), CatalogError> {
        if *seen_root {
            return Ok(());
        }
        if e.local_name().as_ref() != b"cvrfdoc" {
            let root = String::from_utf8_lossy(e.name().as_ref()).into_owned();
            return Err(CatalogError::NotCvrf {
                input: self.source.to_owned(),
                reason: format!("root element is <{root}>, expected cvrf:cvrfdoc"),
            });
        }
        *seen_root = true;
        Ok(())
    }

    /// Handles a start tag (or the start half of an empty element).
    fn start<R: Read>(&mut self, reader: &Xml<R>, e: &BytesStart<'_>) -> Result<(), CatalogError> {
        let tag = Tag::from_local(e.local_name().as_ref());
        let field = self.field_for(tag);
        match (self.stack.as_slice(), tag) {
            ([Tag::Root, Tag::ProductTree, ..], Tag::Branch) => {
                let family = if self.attr(reader, e, b"Type")?.as_deref() == Some("Product Family")
                {
                    self.attr(reader, e, b"Name")?
                        .map(|n| crate::text::clean(&n))
                        .filter(|n| !n.is_empty())
                } else {
                    None
                };
                self.branches.push(family);
            }
            ([Tag::Root, Tag::ProductTree, ..], Tag::FullProductName) => {
                self.product_id = self
                    .attr(reader, e, b"ProductID")?
                    .and_then(|id| id.trim().parse().ok());
            }
            ([Tag::Root], Tag::Vulnerability) => self.vuln = Some(VulnBuilder::default()),
            ([Tag::Root, Tag::Vulnerability, Tag::ProductStatuses], Tag::Status) => {
                self.known_affected_status =
                    self.attr(reader, e, b"Type")?.as_deref() == Some("Known Affected");
            }
            ([Tag::Root, Tag::Vulnerability, Tag::Threats], Tag::Threat) => {
                let kind = match self.attr(reader, e, b"Type")?.as_deref() {
                    Some("Severity") => Some(ThreatType::Severity),
                    Some("Impact") => Some(ThreatType::Impact),
                    Some("Exploit Status") => Some(ThreatType::ExploitStatus),
                    _ => None,
                };
                self.threat = kind.map(|kind| ThreatBuilder {
                    kind,
                    text: None,
                    products: Vec::new(),
                });
            }
            ([Tag::Root, Tag::Vulnerability, Tag::CvssScoreSets], Tag::ScoreSet) => {
                self.score = Some(ScoreBuilder::default())
            }
            ([Tag::Root, Tag::Vulnerability, Tag::Remediations], Tag::Remediation) => {
                let is_fix = self.attr(reader, e, b"Type")?.as_deref() == Some("Vendor Fix");
                self.fix = is_fix.then(FixBuilder::default);
            }
            _ => {}
        }
        self.stack.push(tag);
        self.names.extend_from_slice(e.name().as_ref());
        self.name_ends.push(self.names.len());
        if self.capture.is_none()
            && let Some(f) = field
        {
            self.capture = Some((f, self.stack.len()));
            self.raw.clear();
        }
        Ok(())
    }

    /// Which field a new `tag` element holds, given the elements it sits in.
    fn field_for(&self, tag: Tag) -> Option<Field> {
        use Tag as T;
        Some(match (self.stack.as_slice(), tag) {
            ([T::Root], T::DocumentTitle) => Field::DocumentTitle,
            ([T::Root, T::DocumentTracking, T::Identification], T::Id) => Field::DocumentId,
            ([T::Root, T::DocumentTracking], T::Version) => Field::Version,
            ([T::Root, T::DocumentTracking], T::InitialReleaseDate) => Field::InitialRelease,
            ([T::Root, T::DocumentTracking], T::CurrentReleaseDate) => Field::CurrentRelease,
            (
                [
                    T::Root,
                    T::DocumentTracking,
                    T::RevisionHistory,
                    T::Revision,
                ],
                T::Number,
            ) => Field::RevisionNumber,
            ([T::Root, T::ProductTree, ..], T::FullProductName) => Field::ProductName,
            ([T::Root, T::Vulnerability], T::Title) if self.vuln.is_some() => Field::VulnTitle,
            ([T::Root, T::Vulnerability], T::Cve) if self.vuln.is_some() => Field::Cve,
            ([T::Root, T::Vulnerability, T::ProductStatuses, T::Status], T::ProductId)
                if self.known_affected_status =>
            {
                Field::AffectedProduct
            }
            ([T::Root, T::Vulnerability, T::Threats, T::Threat], T::Description)
                if self.threat.is_some() =>
            {
                Field::ThreatDescription
            }
            ([T::Root, T::Vulnerability, T::Threats, T::Threat], T::ProductId)
                if self.threat.is_some() =>
            {
                Field::ThreatProduct
            }
            ([T::Root, T::Vulnerability, T::CvssScoreSets, T::ScoreSet], T::BaseScore) => {
                Field::BaseScore
            }
            ([T::Root, T::Vulnerability, T::CvssScoreSets, T::ScoreSet], T::Vector) => {
                Field::ScoreVector
            }
            ([T::Root, T::Vulnerability, T::CvssScoreSets, T::ScoreSet], T::ProductId) => {
                Field::ScoreProduct
            }
            ([T::Root, T::Vulnerability, T::RevisionHistory, T::Revision], T::Date)
                if self.vuln.is_some() =>
            {
                Field::VulnRevisionDate
            }
            ([T::Root, T::Vulnerability, T::Remediations, T::Remediation], t)
                if self.fix.is_some() =>
            {
                match t {
                    T::Description => Field::FixDescription,
                    T::Url => Field::FixUrl,
                    T::Supercedence => Field::FixSupercedence,
                    T::ProductId => Field::FixProduct,
                    T::FixedBuild => Field::FixFixedBuild,
                    T::SubType => Field::FixSubType,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// Handles an end tag (or the end half of an empty element).
    fn end(&mut self) -> Flow {
        let depth = self.stack.len();
        if let Some((field, d)) = self.capture
            && d == depth
        {
            self.capture = None;
            self.text.clear();
            clean_into(&self.raw, &mut self.text);
            let text = std::mem::take(&mut self.text);
            self.set(field, &text);
            self.text = text;
        }
        let tag = self.stack.pop();
        self.name_ends.pop();
        self.names
            .truncate(self.name_ends.last().copied().unwrap_or(0));
        match (self.stack.as_slice(), tag) {
            ([], Some(Tag::Root)) => return Flow::Done,
            ([Tag::Root, Tag::ProductTree, ..], Some(Tag::Branch)) => {
                self.branches.pop();
            }
            ([Tag::Root], Some(Tag::Vulnerability)) => {
                if let Some(v) = self.vuln.take().and_then(VulnBuilder::finish) {
                    self.vulnerabilities.push(v);
                }
            }
            ([Tag::Root, Tag::Vulnerability, Tag::ProductStatuses], Some(Tag::Status)) => {
                self.known_affected_status = false
            }
            ([Tag::Root, Tag::Vulnerability, Tag::Threats], Some(Tag::Threat)) => {
                self.finish_threat()
            }
            ([Tag::Root, Tag::Vulnerability, Tag::CvssScoreSets], Some(Tag::ScoreSet)) => {
                self.finish_score()
            }
            ([Tag::Root, Tag::Vulnerability, Tag::Remediations], Some(Tag::Remediation)) => {
                self.finish_fix()
            }
            _ => {}
        }
        Flow::Continue
    }

    /// Stores a cleaned leaf value.
    fn set(&mut self, field: Field, text: &str) {
        let non_empty = || (!text.is_empty()).then(|| text.to_owned());
        match field {
            Field::DocumentTitle => self.title = non_empty(),
            Field::DocumentId => self.id = non_empty(),
            Field::Version => self.version = non_empty(),
            Field::RevisionNumber => self.revisions.push(text.to_owned()),
            Field::InitialRelease => self.initial_release = non_empty(),
            Field::CurrentRelease => self.current_release = non_empty(),
            Field::ProductName => self.add_product(text),
            Field::VulnTitle => {
                if let Some(v) = &mut self.vuln {
                    v.title = non_empty();
                }
            }
            Field::Cve => {
                if let Some(v) = &mut self.vuln
                    && v.cve.is_none()
                {
                    v.cve = non_empty();
                }
            }
            Field::AffectedProduct => {
                if let (Some(v), Ok(p)) = (&mut self.vuln, text.parse::<ProductId>())
                    && !v.known_affected.contains(&p)
                {
                    v.known_affected.push(p);
                }
            }
            Field::ThreatDescription => {
                if let Some(t) = &mut self.threat {
                    t.text = non_empty();
                }
            }
            Field::ThreatProduct => {
                if let (Some(t), Ok(p)) = (&mut self.threat, text.parse()) {
                    t.products.push(p);
                }
            }
            Field::BaseScore => {
                if let Some(s) = &mut self.score {
                    s.base = non_empty();
                }
            }
            Field::ScoreVector => {
                if let Some(s) = &mut self.score {
                    s.vector = non_empty();
                }
            }
            Field::VulnRevisionDate => {
                if let (Some(v), Some(date)) = (&mut self.vuln, value::normalize_date(text))
                    && v.published.as_ref().is_none_or(|p| date < *p)
                {
                    v.published = Some(date);
                }
            }
            Field::ScoreProduct => {
                if let (Some(s), Ok(p)) = (&mut self.score, text.parse()) {
                    s.products.push(p);
                }
            }
            Field::FixDescription => {
                if let Some(f) = &mut self.fix {
                    f.kb = value::kb(text);
                }
            }
            Field::FixUrl => {
                if let Some(f) = &mut self.fix {
                    f.url = non_empty();
                }
            }
            Field::FixSupercedence => {
                if let Some(f) = &mut self.fix {
                    for kb in value::supersedes(text) {
                        if !f.supersedes.contains(&kb) {
                            f.supersedes.push(kb);
                        }
                    }
                }
            }
            Field::FixProduct => {
                if let (Some(f), Ok(p)) = (&mut self.fix, text.parse::<ProductId>())
                    && !f.products.contains(&p)
                {
                    f.products.push(p);
                }
            }
            Field::FixFixedBuild => {
                if let Some(f) = &mut self.fix {
                    f.fixed_build = non_empty();
                }
            }
            Field::FixSubType => {
                if let Some(f) = &mut self.fix {
                    f.sub_type = non_empty();
                }
            }
        }
    }

    /// Adds a `FullProductName`. MSRC lists most products twice (under their `Product Family`
    /// branch and again directly under the tree): one entry per ProductID is kept, with the family
    /// from whichever listing has one.
    fn add_product(&mut self, name: &str) {
        let Some(id) = self.product_id.take() else {
            return;
        };
        let family = self.branches.iter().rev().find_map(Clone::clone);
        if let Some(&i) = self.product_index.get(&id) {
            let p = &mut self.products[i];
            if p.family.is_none() {
                p.family = family;
            }
            if p.name.is_empty() {
                p.name = name.to_owned();
            }
            return;
        }
        self.product_index.insert(id.clone(), self.products.len());
        self.products.push(DocProduct {
            id,
            name: name.to_owned(),
            family,
        });
    }

    fn finish_threat(&mut self) {
        let (Some(t), Some(v)) = (self.threat.take(), &mut self.vuln) else {
            return;
        };
        let Some(text) = t.text else { return };
        match t.kind {
            ThreatType::Severity => {
                let Some(sev) = Severity::from_msrc(&text) else {
                    return;
                };
                if t.products.is_empty() {
                    // Several product-less severities: keep the most severe one.
                    v.unscoped_severity = v.unscoped_severity.max(Some(sev));
                }
                v.severities
                    .extend(t.products.into_iter().map(|p| (p, sev)));
            }
            ThreatType::Impact => {
                let Some(impact) = Impact::from_msrc(&text) else {
                    return;
                };
                if t.products.is_empty() {
                    v.unscoped_impact = v.unscoped_impact.or(Some(impact));
                }
                v.impacts
                    .extend(t.products.into_iter().map(|p| (p, impact)));
            }
            ThreatType::ExploitStatus => {
                if let Some(status) = ExploitStatus::from_msrc(&text) {
                    match &mut v.exploit {
                        Some(old) => old.merge(&status),
                        None => v.exploit = Some(status),
                    }
                }
            }
        }
    }

    fn finish_score(&mut self) {
        let (Some(s), Some(v)) = (self.score.take(), &mut self.vuln) else {
            return;
        };
        let Some(base) = s.base else { return };
        let Some(score) = value::score(&base) else {
            let cve = v.cve.as_deref().unwrap_or("a vulnerability");
            let shown: String = base.chars().take(40).collect();
            self.warnings.push(format!(
                "{cve}: CVSS BaseScore {shown:?} is not a number from 0 to 10; ignored"
            ));
            return;
        };
        if s.products.is_empty() {
            v.unscoped_score = Some(v.unscoped_score.map_or(score, |old| old.max(score)));
            if s.vector.is_some() {
                v.unscoped_vector.clone_from(&s.vector);
            }
        }
        if let Some(vector) = &s.vector {
            v.vectors
                .extend(s.products.iter().map(|p| (p.clone(), vector.clone())));
        }
        v.scores.extend(s.products.into_iter().map(|p| (p, score)));
    }

    fn finish_fix(&mut self) {
        let (Some(f), Some(v)) = (self.fix.take(), &mut self.vuln) else {
            return;
        };
        let Some(kb) = f.kb else { return };
        if f.products.is_empty() {
            v.unscoped_fixes.push(v.fixes.len());
        }
        v.fixes.push(VendorFix {
            kb,
            url: f.url,
            supersedes: f.supersedes,
            products: f.products,
            fixed_build: f.fixed_build,
            sub_type: f.sub_type,
        });
    }

    /// Checks that the identifying fields are present and usable, and builds the document.
    fn finish(mut self) -> Result<Document, CatalogError> {
        let source = self.source;
        let missing = |field: &'static str| CatalogError::MissingField {
            input: source.to_owned(),
            field,
        };
        let id = self
            .id
            .take()
            .ok_or_else(|| missing("cvrf:DocumentTracking/cvrf:Identification/cvrf:ID"))?;
        let title = self
            .title
            .take()
            .ok_or_else(|| missing("cvrf:DocumentTitle"))?;
        let revision = self.revision()?;
        let date = |value: Option<String>, field: &'static str| -> Result<String, CatalogError> {
            let v = value.ok_or_else(|| missing(field))?;
            value::normalize_date(&v).ok_or_else(|| CatalogError::InvalidField {
                input: source.to_owned(),
                field,
                value: v.chars().take(80).collect(),
                reason: "expected a date such as 2026-06-09T07:00:00",
            })
        };
        let initial_release = date(
            self.initial_release.take(),
            "cvrf:DocumentTracking/cvrf:InitialReleaseDate",
        )?;
        let current_release = date(
            self.current_release.take(),
            "cvrf:DocumentTracking/cvrf:CurrentReleaseDate",
        )?;
        Ok(Document {
            info: DocumentInfo {
                id,
                title,
                revision,
                initial_release,
                current_release,
            },
            products: self.products,
            vulnerabilities: self.vulnerabilities,
            warnings: self.warnings,
        })
    }

    /// The highest revision number of the revision history, or the document version without one.
    fn revision(&self) -> Result<Revision, CatalogError> {
        if let Some(max) = self
            .revisions
            .iter()
            .filter_map(|r| Revision::parse(r))
            .max()
        {
            return Ok(max);
        }
        if let Some(v) = self.version.as_deref().and_then(Revision::parse) {
            return Ok(v);
        }
        match self.revisions.first().or(self.version.as_ref()) {
            Some(bad) => Err(CatalogError::InvalidField {
                input: self.source.to_owned(),
                field: "cvrf:DocumentTracking/cvrf:RevisionHistory/cvrf:Revision/cvrf:Number",
                value: bad.chars().take(80).collect(),
                reason: "expected a revision number such as 12 or 3.1",
            }),
            None => Err(CatalogError::MissingField {
                input: self.source.to_owned(),
                field: "cvrf:DocumentTracking/cvrf:RevisionHistory/cvrf:Revision/cvrf:Number",
            }),
        }
    }

    /// An attribute's unescaped value, when present.
    fn attr<R: Read>(
        &self,
        reader: &Xml<R>,
        e: &BytesStart<'_>,
        name: &[u8],
    ) -> Result<Option<String>, CatalogError> {
        let attr = e
            .try_get_attribute(name)
            .map_err(|err| self.error_at(reader, format!("bad attribute: {err}")))?;
        match attr {
            None => Ok(None),
            Some(a) => a
                .decode_and_unescape_value(reader.decoder())
                .map(|v| Some(v.into_owned()))
                .map_err(|err| self.error_at(reader, format!("bad attribute value: {err}"))),
        }
    }

    /// Appends an entity or character reference (`&amp;`, `&#8203;`) to the captured text.
    fn push_reference<R: Read>(
        &mut self,
        reader: &Xml<R>,
        r: &quick_xml::events::BytesRef<'_>,
    ) -> Result<(), CatalogError> {
        match r.resolve_char_ref() {
            Ok(Some(c)) => {
                self.raw.push(c);
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => return Err(self.error_at(reader, format!("bad character reference: {e}"))),
        }
        let name = std::str::from_utf8(r).map_err(|_| self.invalid_utf8(reader))?;
        match quick_xml::escape::resolve_predefined_entity(name) {
            Some(s) => {
                self.raw.push_str(s);
                Ok(())
            }
            None => Err(self.error_at(reader, format!("unknown entity &{name};"))),
        }
    }

    fn open_element_name(&self) -> String {
        let end = self.name_ends.last().copied().unwrap_or(0);
        let start = self
            .name_ends
            .len()
            .checked_sub(2)
            .and_then(|i| self.name_ends.get(i))
            .copied()
            .unwrap_or(0);
        String::from_utf8_lossy(self.names.get(start..end).unwrap_or_default()).into_owned()
    }

    fn invalid_utf8<R: Read>(&self, reader: &Xml<R>) -> CatalogError {
        self.error_at(reader, "text is not valid UTF-8".to_owned())
    }

    /// An XML error at the reader's current position.
    fn error_at<R: Read>(&self, reader: &Xml<R>, message: String) -> CatalogError {
        CatalogError::Xml {
            input: self.source.to_owned(),
            position: reader.get_ref().position(reader.buffer_position()),
            message,
        }
    }

    /// Translates a quick-xml error, located at the reader's error position.
    fn xml_error<R: Read>(&self, reader: &Xml<R>, e: quick_xml::Error) -> CatalogError {
        use quick_xml::errors::SyntaxError;
        let message = match e {
            quick_xml::Error::Io(io) => {
                let io = std::sync::Arc::try_unwrap(io)
                    .unwrap_or_else(|arc| io::Error::new(arc.kind(), arc.to_string()));
                return classify_io(io, self.source);
            }
            quick_xml::Error::Syntax(SyntaxError::UnclosedTag) => {
                "unexpected end of file inside a tag".to_owned()
            }
            quick_xml::Error::Syntax(s) => s.to_string(),
            quick_xml::Error::IllFormed(s) => s.to_string(),
            other => other.to_string(),
        };
        CatalogError::Xml {
            input: self.source.to_owned(),
            position: reader.get_ref().position(reader.error_position()),
            message,
        }
    }
}

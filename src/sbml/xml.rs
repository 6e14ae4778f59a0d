//! XML reading: SBML and MathML elements are matched by their local name (any namespace).

use roxmltree::Node;

pub(super) fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

pub(super) fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

/// The items of `<listOfX>` inside `n`, e.g. `list(model, "listOfSpecies", "species")`.
pub(super) fn list<'a, 'i>(n: Node<'a, 'i>, list_name: &str, item: &str) -> Vec<Node<'a, 'i>> {
    child(n, list_name)
        .map(|l| {
            elements(l)
                .filter(|c| c.tag_name().name() == item)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn attr_bool(n: Node, name: &str) -> bool {
    n.attribute(name) == Some("true")
}

pub(super) fn attr_f64(n: Node, name: &str) -> Option<f64> {
    n.attribute(name).and_then(|v| v.trim().parse().ok())
}

/// BioModels id, DOI and PubMed id from the model's RDF annotation.
pub(super) fn annotation_ids(model: Node) -> (Option<String>, Option<String>, Option<String>) {
    let (mut biomodels, mut doi, mut pubmed) = (None, None, None);
    let Some(annotation) = child(model, "annotation") else {
        return (None, None, None);
    };
    for n in annotation.descendants().filter(|n| n.is_element()) {
        let Some(res) = n
            .attributes()
            .find(|a| a.name() == "resource")
            .map(|a| a.value())
        else {
            continue;
        };
        // identifiers.org/biomodels.db/BIOMD… or urn:miriam:biomodels.db:BIOMD…
        if let Some(i) = res.find("biomodels.db") {
            let id = res
                .get(i + "biomodels.db".len() + 1..)
                .unwrap_or("")
                .to_string();
            // Prefer the curated BIOMD id over a MODEL id.
            if !id.is_empty()
                && !biomodels
                    .as_deref()
                    .is_some_and(|b: &str| b.starts_with("BIOMD"))
            {
                biomodels = Some(id);
            }
        }
        let described = n
            .ancestors()
            .any(|a| a.tag_name().name() == "isDescribedBy");
        if described {
            for marker in [
                "identifiers.org/doi/",
                "doi.org/",
                "urn:miriam:doi:",
                "identifiers.org/doi:",
            ] {
                if let Some(i) = res.find(marker) {
                    doi.get_or_insert(res[i + marker.len()..].to_string());
                }
            }
            for marker in [
                "identifiers.org/pubmed/",
                "identifiers.org/pubmed:",
                "urn:miriam:pubmed:",
            ] {
                if let Some(i) = res.find(marker) {
                    pubmed.get_or_insert(res[i + marker.len()..].to_string());
                }
            }
        }
    }
    (biomodels, doi, pubmed)
}

/// Deepest element nesting a document may have: the XML reader (roxmltree) recurses once per
/// level, so deeper input is refused before it is parsed (SBML itself nests about 10 levels,
/// MathML up to the expression language's limit of 500).
pub(super) const MAX_XML_DEPTH: usize = 1000;

/// The deepest element nesting of `xml` when it exceeds [`MAX_XML_DEPTH`] (a linear scan of the
/// text with no recursion: tags, self-closing tags, comments, CDATA, processing instructions and
/// declarations; quoted attribute values may contain `>`). Malformed text is left to the parser.
pub(super) fn nesting_beyond_limit(xml: &str) -> Option<usize> {
    let b = xml.as_bytes();
    let find = |from: usize, pat: &[u8]| {
        b[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| from + p + pat.len())
    };
    let (mut i, mut depth) = (0usize, 0usize);
    while let Some(p) = b[i..].iter().position(|&c| c == b'<') {
        let at = i + p;
        let rest = &b[at..];
        i = if rest.starts_with(b"<!--") {
            find(at, b"-->")?
        } else if rest.starts_with(b"<![CDATA[") {
            find(at, b"]]>")?
        } else if rest.starts_with(b"<?") {
            find(at, b"?>")?
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") {
            depth = depth.saturating_sub(usize::from(rest.starts_with(b"</")));
            find(at, b">")?
        } else {
            // An opening tag: find its end outside quotes.
            let mut j = at + 1;
            let mut quote = None;
            while j < b.len() {
                match (quote, b[j]) {
                    (None, b'"' | b'\'') => quote = Some(b[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            if j >= b.len() {
                return None;
            }
            if b[j - 1] != b'/' {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Some(depth);
                }
            }
            j + 1
        };
    }
    None
}

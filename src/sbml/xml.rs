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

//! Where models come from: the bundled library (`models/*.toml`, embedded in the binary), model
//! files on disk, and SBML files, which the importer lowers into the same [`ModelSpec`] a TOML
//! file gives. This front-end layer sits above [`crate::model`] and [`crate::sbml`].

#[cfg(doc)]
use crate::model::ModelSpec;
use crate::model::{Model, ModelError};
use std::path::Path;

impl Model {
    /// Load a bundled model by name, or a model file by path: a name containing `/`, ending in
    /// `.toml`, or an existing file; `.xml` and `.sbml` paths are imported as SBML.
    pub fn resolve(name_or_path: &str) -> crate::Result<Model> {
        if let Some(model) = Model::bundled(name_or_path) {
            return model;
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".xml") || name_or_path.ends_with(".sbml") {
            return Model::load_sbml(path);
        }
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") || path.exists() {
            return Model::load(path);
        }
        let names: Vec<&str> = Model::bundled_names().collect();
        Err(crate::Error::Model(ModelError::plain(
            name_or_path,
            format!(
                "unknown model `{name_or_path}` (bundled: {}; or give a path to a .toml or SBML .xml file)",
                names.join(", ")
            ),
        )))
    }

    /// Load a TOML model file.
    pub fn load(path: &Path) -> crate::Result<Model> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModelError::plain(&label, format!("cannot read: {e}")))?;
        Model::from_toml(&text, &label)
    }

    /// Import an SBML file (Level 2 or 3 core) and compile it like a model file.
    pub fn load_sbml(path: &Path) -> crate::Result<Model> {
        let label = path.display().to_string();
        let xml = std::fs::read_to_string(path)
            .map_err(|e| ModelError::plain(&label, format!("cannot read: {e}")))?;
        Model::from_sbml(&xml, &label)
    }

    /// Import SBML text (Level 2 or 3 core); `label` names it in error messages, as a path does.
    pub fn from_sbml(xml: &str, label: &str) -> crate::Result<Model> {
        let spec = crate::sbml::sbml_to_spec(xml, label)?;
        Model::from_spec(spec, &format!("{label} (imported)"))
    }
}

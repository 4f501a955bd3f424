//! The built-in presets and policies loaded from files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::error::LoadError;
use super::model::Policy;
use super::spec::compile;

/// The five presets, compiled into the binary.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "config/policies/xihu-2017.toml",
        include_str!("../../config/policies/xihu-2017.toml"),
    ),
    (
        "config/policies/jinhua-2018.toml",
        include_str!("../../config/policies/jinhua-2018.toml"),
    ),
    (
        "config/policies/erqi-2021.toml",
        include_str!("../../config/policies/erqi-2021.toml"),
    ),
    (
        "config/policies/sdtbu-2018.toml",
        include_str!("../../config/policies/sdtbu-2018.toml"),
    ),
    (
        "config/policies/town-2019.toml",
        include_str!("../../config/policies/town-2019.toml"),
    ),
];

/// Parses policy text; `file` names it in errors.
pub fn parse_policy(file: &str, text: &str) -> Result<Policy, LoadError> {
    compile(file, text)
}

/// Reads one policy file.
pub fn load_policy_file(path: &Path) -> Result<Policy, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::file(&file, e.to_string()))?;
    compile(&file, &text)
}

/// Policies by name: the presets, plus files that add or replace them.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    by_name: BTreeMap<String, Arc<Policy>>,
}

impl PolicySet {
    /// The five presets.
    pub fn builtin() -> Result<Self, LoadError> {
        let mut out = Self::default();
        for (file, text) in PRESETS {
            out.insert(compile(file, text)?);
        }
        Ok(out)
    }

    /// The presets, then every `*.toml` in `dir`: a file named `<name>.toml`
    /// declaring `name = "<name>"` adds that policy or replaces the preset.
    pub fn load(dir: Option<&Path>) -> Result<Self, LoadError> {
        let mut out = Self::builtin()?;
        if let Some(dir) = dir {
            for (file, text) in super::read_toml_dir(dir)? {
                let policy = compile(&file, &text)?;
                let stem = Path::new(&file)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                if policy.name != stem {
                    return Err(LoadError::file(
                        &file,
                        format!(
                            "declares name \"{}\": the file must be named {}.toml",
                            policy.name, policy.name
                        ),
                    ));
                }
                out.insert(policy);
            }
        }
        Ok(out)
    }

    pub fn insert(&mut self, policy: Policy) {
        self.by_name.insert(policy.name.clone(), Arc::new(policy));
    }

    pub fn get(&self, name: &str) -> Option<Arc<Policy>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

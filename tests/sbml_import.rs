//! Tests of the SBML translator against the curated BioModels and the extra SBML files.
//! The reference folder is `$CARTOX_SBML_REFERENCE` or ../shared/reference beside the checkout.

mod sbml_support;
use sbml_support as common;

use std::path::PathBuf;

use cartox::sbml::sbml_to_toml;

fn reference(rel: &str) -> PathBuf {
    let root = std::env::var("CARTOX_SBML_REFERENCE")
        .unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference").into());
    PathBuf::from(root).join(rel)
}

fn translate(rel: &str) -> toml::Table {
    let path = reference(rel);
    let xml = std::fs::read_to_string(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let text = sbml_to_toml(&xml, &name).unwrap_or_else(|e| panic!("{e}"));
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("{rel}: output is not TOML: {e}\n{text}"))
}

fn names(model: &toml::Table, key: &str) -> Vec<String> {
    model
        .get(key)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

/// Translates a curated model and checks its names, time unit and derivatives at t0.
fn check(
    rel: &str,
    time_unit: &str,
    states: &[&str],
    params: &[&str],
    assignments: &[&str],
    dt0: &[f64],
) {
    let m = translate(rel);
    assert_eq!(m["model"]["time_unit"].as_str(), Some(time_unit), "{rel}");
    assert_eq!(names(&m, "states"), states, "{rel}: states");
    assert_eq!(names(&m, "parameters"), params, "{rel}: parameters");
    assert_eq!(names(&m, "assignments"), assignments, "{rel}: assignments");
    let d = common::derivatives_at_t0(&m).unwrap_or_else(|e| panic!("{rel}: {e}"));
    for (s, want) in states.iter().zip(dt0) {
        let got = d[*s];
        let ok = if *want == 0.0 {
            got == 0.0
        } else {
            ((got - want) / want).abs() <= 1e-9
        };
        assert!(ok, "{rel}: d{s}/dt at t0 = {got}, README says {want}");
    }
}

#[test]
fn hanson2016() {
    check(
        "biomodels/BIOMD0000000837_Hanson2016.xml",
        "hour",
        &["C_m", "C_e", "H_m", "H_e", "L", "Inflam", "B", "D"],
        &[
            "compartment",
            "n",
            "r_1",
            "r_2",
            "r_3",
            "r_4",
            "d_1",
            "d_2",
            "d_3",
            "d_4",
            "d_5",
            "p_1",
            "p_2",
            "a_1",
            "a_2",
            "a_3",
            "b",
            "l",
            "k",
            "p_0",
            "ModelValue_16",
        ],
        &["Total_Lymphocytes", "Lymphocyte_Term"],
        &[
            -7.48817465130382e-4,
            7.92431776834444e-3,
            -7.13159490600364e-3,
            0.416422073984233,
            0.08,
            2.0,
            0.24375,
            0.0,
        ],
    );
    let m = translate("biomodels/BIOMD0000000837_Hanson2016.xml");
    let r = &m["references"][0];
    assert_eq!(r["doi"].as_str(), Some("10.1101/049908"));
    assert_eq!(r["biomodels"].as_str(), Some("BIOMD0000000837"));
    let p16 = m["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("ModelValue_16"))
        .unwrap();
    assert_eq!(p16["value"].as_float(), Some(1600.0)); // initial assignment ModelValue_16 = l
}

#[test]
fn leon_triana2020_eqs4() {
    check(
        "biomodels/BIOMD0000001011_Leon-Triana2020_eqs4.xml",
        "day",
        &["CAR_T_cells", "Leukaemic_B_cells", "B_cells_healthy"],
        &["compartment", "tao_B", "rho_L", "tao_C", "alpha"],
        &["rho_C"],
        &[7723214.28571429, 1644166666.5, -427916666.666667],
    );
}

#[test]
fn leon_triana2020_eqs3() {
    let rel = "biomodels/BIOMD0000001012_Leon-Triana2020_eqs3.xml";
    check(
        rel,
        "day",
        &[
            "CAR_T_cells",
            "Leukaemic_B_cells",
            "B_cells_healthy",
            "B_cell_progenitors",
        ],
        &[
            "Whole_organism_blood",
            "tao_B",
            "rho_L",
            "tao_C",
            "alpha",
            "tao_I",
            "beta",
            "C_50",
            "I_0",
        ],
        &["rho_C", "k"],
        &[
            7723214.28572542,
            1644166666.5,
            -426266501.650165,
            8349834.98349835,
        ],
    );
    // The initial assignment P = I_0 becomes an initial expression.
    let m = translate(rel);
    assert_eq!(m["states"][3]["initial"].as_str(), Some("I_0"));
    assert_eq!(
        m["references"][0]["doi"].as_str(),
        Some("10.1016/j.cnsns.2020.105570")
    );
}

#[test]
fn kimmel2021() {
    check(
        "biomodels/BIOMD0000001041_Kimmel2021.xml",
        "day",
        &[
            "Normal_T_cells",
            "CAR_T_cells",
            "Antigen_presenting_tumour_cells",
        ],
        &[
            "compartment",
            "K_N",
            "K_C",
            "r_N",
            "rho_C",
            "a",
            "b",
            "r_B",
            "gamma_B",
            "k_B",
        ],
        &["Total_lymphocyte_count", "r_C"], // T is a boundary species set by a rule
        &[4.45187131549156, 0.610790330028905, -7.95662448979592],
    );
}

/// Every extra file translates (and evaluates at t0) or fails with a one-line error naming it.
#[test]
fn sbml_more_translate_or_fail_clearly() {
    let dir = reference("sbml-more");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let xml = std::fs::read_to_string(&path).unwrap();
        match sbml_to_toml(&xml, &name) {
            Ok(text) => {
                let m: toml::Table = text.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
                let d = common::derivatives_at_t0(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(d.len(), names(&m, "states").len(), "{name}");
                println!("{name}: translated, {} states", d.len());
            }
            Err(e) => {
                let line = e.to_string();
                assert!(
                    line.starts_with(&format!("{name}: unsupported SBML: ")),
                    "{line}"
                );
                assert!(!line.contains('\n') && !e.problems.is_empty());
                println!("{line}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Error cases on small hand-written documents
// ---------------------------------------------------------------------------------------------

/// A minimal valid L3 model; `extra` is inserted inside <model>, `rate` is the kinetic law.
fn doc(extra: &str, rate: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
 <model id="tiny" name="Tiny &quot;test&quot; model" timeUnits="h">
  <listOfUnitDefinitions>
   <unitDefinition id="h"><listOfUnits><unit kind="second" exponent="1" scale="0" multiplier="3600"/></listOfUnits></unitDefinition>
  </listOfUnitDefinitions>
  <listOfCompartments><compartment id="cell" size="2" constant="true"/></listOfCompartments>
  <listOfSpecies>
   <species id="A" compartment="cell" initialAmount="4" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
   <species id="log" compartment="cell" initialConcentration="1" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
  </listOfSpecies>
  <listOfParameters><parameter id="k" value="0.5" constant="true"/></listOfParameters>
  <listOfReactions>
   <reaction id="R" reversible="false">
    <listOfReactants><speciesReference species="A" stoichiometry="2" constant="true"/></listOfReactants>
    <listOfProducts><speciesReference species="log" stoichiometry="1" constant="true"/></listOfProducts>
    <kineticLaw>
     <math xmlns="http://www.w3.org/1998/Math/MathML">{rate}</math>
     <listOfLocalParameters><localParameter id="k" value="3"/></listOfLocalParameters>
    </kineticLaw>
   </reaction>
  </listOfReactions>
  {extra}
 </model>
</sbml>"#
    )
}

const RATE: &str = "<apply><times/><ci>k</ci><ci>A</ci><ci>cell</ci></apply>";

#[test]
fn tiny_model_semantics() {
    let text = sbml_to_toml(&doc("", RATE), "tiny.xml").unwrap();
    let m: toml::Table = text.parse().unwrap();
    assert_eq!(m["model"]["time_unit"].as_str(), Some("hour"));
    assert_eq!(m["model"]["title"].as_str(), Some("Tiny \"test\" model"));
    // Local parameter renamed; reserved word 'log' renamed with a trailing underscore.
    assert_eq!(names(&m, "parameters"), ["cell", "k", "R_k"]);
    assert_eq!(names(&m, "states"), ["A", "log_"]);
    assert!(m["model"]["description"]
        .as_str()
        .unwrap()
        .contains("log -> log_"));
    // A: initialAmount 4 in a compartment of size 2 -> concentration 4 / cell = 2.
    assert_eq!(m["states"][0]["initial"].as_str(), Some("4 / cell"));
    // log_ is an amount (hasOnlySubstanceUnits): initial concentration 1 times the size.
    assert_eq!(m["states"][1]["initial"].as_str(), Some("1 * cell"));
    let d = common::derivatives_at_t0(&m).unwrap();
    let rate = 3.0 * 2.0 * 2.0; // R_k * [A] * size, in amount/time
    assert_eq!(d["A"], -2.0 * rate / 2.0);
    assert_eq!(d["log_"], rate);
}

#[test]
fn mathml_subset_prints_cartox_expressions() {
    let cases = [
        ("<apply><log/><logbase><cn>2</cn></logbase><ci>k</ci></apply>", "(ln(k) / ln(2))"),
        ("<apply><log/><ci>k</ci></apply>", "log10(k)"),
        ("<apply><root/><degree><cn>3</cn></degree><ci>k</ci></apply>", "(k ^ (1 / 3))"),
        ("<apply><lt/><cn>1</cn><ci>k</ci><cn>2</cn></apply>", "((1 < k) && (k < 2))"),
        ("<apply><minus/><cn type=\"e-notation\">1.5<sep/>-3</cn></apply>", "(-1.5e-3)"),
        ("<apply><plus/><cn type=\"rational\">1<sep/>3</cn><cn>-2</cn></apply>", "((1 / 3) + (-2))"),
        ("<apply><max/><ci>k</ci><pi/><exponentiale/></apply>", "max(max(k, pi), exp(1))"),
        ("<apply><xor/><true/><false/></apply>", "((1 != 0) != (0 != 0))"),
        ("<piecewise><piece><cn>1</cn><apply><geq/><csymbol definitionURL=\"http://www.sbml.org/sbml/symbols/time\">t</csymbol><ci>k</ci></apply></piece><otherwise><apply><ceiling/><ci>k</ci></apply></otherwise></piecewise>",
         "if((t >= k), 1, ceil(k))"),
    ];
    for (mathml, want) in cases {
        let extra = format!(
            r#"<listOfRules><assignmentRule variable="q"><math xmlns="http://www.w3.org/1998/Math/MathML">{mathml}</math></assignmentRule></listOfRules>"#
        );
        let xml = doc(&extra, RATE).replace(
            "<listOfParameters>",
            r#"<listOfParameters><parameter id="q" constant="false"/>"#,
        );
        let text = sbml_to_toml(&xml, "tiny.xml").unwrap_or_else(|e| panic!("{e}"));
        let m: toml::Table = text.parse().unwrap();
        assert_eq!(m["assignments"][0]["expr"].as_str(), Some(want), "{mathml}");
    }
}

/// Every MathML trigonometric and hyperbolic element becomes the cartox function of the same
/// value: the translated model's rate `f(k) * A * cell` equals the f64 reference at t = 0.
#[test]
fn mathml_trigonometry_maps_to_cartox_functions() {
    // (MathML element, cartox name, argument, reference value)
    let inv = |x: f64| 1.0 / x;
    let cases: [(&str, &str, f64, f64); 24] = [
        ("sin", "sin", 0.3, 0.3f64.sin()),
        ("cos", "cos", 0.3, 0.3f64.cos()),
        ("tan", "tan", 0.3, 0.3f64.tan()),
        ("sec", "sec", 0.3, inv(0.3f64.cos())),
        ("csc", "csc", 0.3, inv(0.3f64.sin())),
        ("cot", "cot", 0.3, inv(0.3f64.tan())),
        ("sinh", "sinh", 0.3, 0.3f64.sinh()),
        ("cosh", "cosh", 0.3, 0.3f64.cosh()),
        ("tanh", "tanh", 0.3, 0.3f64.tanh()),
        ("sech", "sech", 0.3, inv(0.3f64.cosh())),
        ("csch", "csch", 0.3, inv(0.3f64.sinh())),
        ("coth", "coth", 0.3, inv(0.3f64.tanh())),
        ("arcsin", "asin", 0.3, 0.3f64.asin()),
        ("arccos", "acos", 0.3, 0.3f64.acos()),
        ("arctan", "atan", 0.3, 0.3f64.atan()),
        ("arcsec", "arcsec", 2.5, inv(2.5).acos()),
        ("arccsc", "arccsc", 2.5, inv(2.5).asin()),
        ("arccot", "arccot", 2.5, inv(2.5).atan()),
        ("arcsinh", "asinh", 0.3, 0.3f64.asinh()),
        ("arccosh", "acosh", 2.5, 2.5f64.acosh()),
        ("arctanh", "atanh", 0.3, 0.3f64.atanh()),
        ("arcsech", "arcsech", 0.3, inv(0.3).acosh()),
        ("arccsch", "arccsch", 0.3, inv(0.3).asinh()),
        ("arccoth", "arccoth", 2.5, inv(2.5).atanh()),
    ];
    for (el, name, x, want) in cases {
        let rate = format!(
            "<apply><times/><apply><{el}/><ci>k</ci></apply><ci>A</ci><ci>cell</ci></apply>"
        );
        let xml = doc("", &rate).replace(
            r#"<localParameter id="k" value="3"/>"#,
            &format!(r#"<localParameter id="k" value="{x}"/>"#),
        );
        let text = sbml_to_toml(&xml, "tiny.xml").unwrap_or_else(|e| panic!("{el}: {e}"));
        let m: toml::Table = text.parse().unwrap();
        let eq = m["equations"]["log_"].as_str().unwrap();
        assert!(eq.contains(&format!("{name}(R_k)")), "{el}: {eq}");
        // The engine's own evaluator: [A] = 2, cell = 2, so the rate in amount/time (the
        // right-hand side of log_, an amount) is f(k) * 2 * 2.
        let model = cartox::model::Model::from_toml(&text, "tiny.xml").unwrap();
        let params: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
        let mut v = model.slots_with_params(&params);
        let mut dy = [0.0; 2];
        model.rhs(&mut v, 0.0, &[2.0, 2.0], &mut dy);
        let want = want * 4.0;
        assert!(
            (dy[1] - want).abs() <= 1e-15 * want.abs(),
            "{el}: {} vs {want}",
            dy[1]
        );
    }
}

#[test]
fn function_definitions_are_inlined() {
    let fd = r#"<listOfFunctionDefinitions><functionDefinition id="f"><math xmlns="http://www.w3.org/1998/Math/MathML">
      <lambda><bvar><ci>x</ci></bvar><bvar><ci>y</ci></bvar><apply><minus/><ci>x</ci><ci>y</ci></apply></lambda></math></functionDefinition></listOfFunctionDefinitions>"#;
    // Function definitions come first in the model.
    let xml = doc(
        "",
        "<apply><ci>f</ci><ci>k</ci><apply><plus/><ci>A</ci><cn>1</cn></apply></apply>",
    )
    .replace(
        "<listOfUnitDefinitions>",
        &format!("{fd}<listOfUnitDefinitions>"),
    );
    let m: toml::Table = sbml_to_toml(&xml, "tiny.xml").unwrap().parse().unwrap();
    assert_eq!(
        m["equations"]["A"].as_str(),
        Some("(-(2 * (R_k - (A + 1)))) / cell")
    );
}

fn error(xml: &str) -> String {
    sbml_to_toml(xml, "bad.xml").unwrap_err().to_string()
}

#[test]
fn malformed_xml() {
    let e = error("<sbml><model></sbml>");
    assert!(
        e.starts_with("bad.xml: malformed SBML: not well-formed XML"),
        "{e}"
    );
}

#[test]
fn not_sbml() {
    let e = error("<html><body/></html>");
    assert_eq!(
        e,
        "bad.xml: malformed SBML: the root element is <html>, not <sbml>"
    );
}

#[test]
fn event_algebraic_rule_and_mathml_are_all_reported() {
    let extra = r#"
  <listOfRules><algebraicRule><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>k</ci></math></algebraicRule></listOfRules>
  <listOfEvents><event id="dose" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true">
   <math xmlns="http://www.w3.org/1998/Math/MathML"><apply><gt/><ci>A</ci><cn>1</cn></apply></math></trigger>
   <listOfEventAssignments><eventAssignment variable="cell"><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></eventAssignment></listOfEventAssignments></event></listOfEvents>"#;
    // (factorial and the delay csymbol are supported now: rateOf of an expression is not)
    let rate = "<apply><times/><infinity/><apply><csymbol definitionURL=\"http://www.sbml.org/sbml/symbols/rateOf\">rateOf</csymbol><apply><plus/><ci>A</ci><cn>1</cn></apply></apply></apply>";
    let err = sbml_to_toml(&doc(extra, rate), "bad.xml").unwrap_err();
    let e = err.to_string();
    assert!(e.starts_with("bad.xml: unsupported SBML: "), "{e}");
    // (The event resizing compartment `cell` is translated: variable compartment sizes, issue 19.)
    for needle in [
        "algebraic rule",
        "<infinity>",
        "rateOf of something other than an identifier",
    ] {
        assert!(e.contains(needle), "{needle} missing from: {e}");
    }
    assert_eq!(err.problems.len(), 3, "{e}");
}

#[test]
fn unsupported_time_unit_is_named() {
    // Minutes and weeks are model time units now; 90 s is none of the named units.
    for (multiplier, unit) in [("60", "minute"), ("604800", "week"), ("1", "second")] {
        let xml = doc("", RATE).replace(
            "multiplier=\"3600\"",
            &format!("multiplier=\"{multiplier}\""),
        );
        let m: toml::Table = sbml_to_toml(&xml, "tiny.xml").unwrap().parse().unwrap();
        assert_eq!(m["model"]["time_unit"].as_str(), Some(unit));
    }
    let xml = doc("", RATE).replace("multiplier=\"3600\"", "multiplier=\"90\"");
    let e = error(&xml);
    assert!(e.contains("time unit 'h' (90 s)"), "{e}");
}

#[test]
fn fast_reaction_and_unknown_identifier() {
    let xml = doc("", "<apply><times/><ci>nope</ci><ci>A</ci></apply>")
        .replace("reversible=\"false\"", "reversible=\"false\" fast=\"true\"");
    let e = error(&xml);
    assert!(
        e.contains("fast reaction 'R'") && e.contains("'nope'"),
        "{e}"
    );
}

#[test]
fn level2_stoichiometry_math_and_unknown_species() {
    let xml = doc("", RATE).replace(
        r#"<speciesReference species="A" stoichiometry="2" constant="true"/>"#,
        r#"<speciesReference species="A"><stoichiometryMath><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><cn>2</cn><ci>k</ci></apply></math></stoichiometryMath></speciesReference>"#,
    );
    let m: toml::Table = sbml_to_toml(&xml, "tiny.xml").unwrap().parse().unwrap();
    assert_eq!(
        m["equations"]["A"].as_str(),
        Some("(-((2 * k) * (R_k * A * cell))) / cell")
    );
    let e = error(&doc("", RATE).replace(
        r#"species="log" stoichiometry"#,
        r#"species="Z" stoichiometry"#,
    ));
    assert!(
        e.starts_with("bad.xml: malformed SBML: ") && e.contains("unknown species 'Z'"),
        "{e}"
    );
}

/// d state/dt at t0 of the translatable sbml-more files, from libroadrunner 2.10.0 (`r["X'"]`),
/// compared to 1e-9 relative.
#[test]
fn sbml_more_derivatives_match_roadrunner() {
    let cases: &[(&str, &[(&str, f64)])] = &[
        (
            "BIOMD0000001013.xml",
            &[
                ("CAR_T_cells", 42621613.9150271),
                ("Tumour_cells", -536000000.0),
            ],
        ),
        (
            "BIOMD0000001014.xml",
            &[
                ("B_cells", -641666666.6666667),
                ("CAR_T_cells_off_tumour", 60000000.0),
                ("CAR_T_cells_on_tumour", 40000000.0),
                ("Tumour_cells", 670000000.0),
            ],
        ),
        (
            "BIOMD0000001024.xml",
            &[("Expanding_CAR_T_cells", 14.6), ("Tumor_cells", 133.65)],
        ),
        (
            "BIOMD0000001025.xml",
            &[
                ("Expanding_CAR_T_cells", 86.93743139407245),
                ("Persistent_CAR_T_cells", 0.0),
                ("Tumor_cells", -0.6784636098415389),
            ],
        ),
        (
            "MODEL2009230001.xml",
            &[
                ("B_pb", 18699999.999999985),
                ("CARTE_pb", 1100000000.0),
                ("CARTE_t", 0.0),
                ("CARTM_pb", 0.0),
                ("CARTM_t", 0.0),
                ("IFNg", 0.001),
                ("IL10", 0.001),
                ("IL6", 0.001),
            ],
        ),
        // Imports; its trajectory is not compared with roadrunner (tests/published_models.rs
        // does for the others): CVODE itself fails on it near t = 8.6 d (tests/data/README.md).
        (
            "MODEL2109110005.xml",
            &[("C_E", 10.0), ("C_P", 0.0), ("U", -135.1227387741323)],
        ),
    ];
    for (file, want) in cases {
        let m = translate(&format!("sbml-more/{file}"));
        let d = common::derivatives_at_t0(&m).unwrap();
        assert_eq!(d.len(), want.len(), "{file}");
        for (s, w) in *want {
            let got = d[*s];
            let ok = if *w == 0.0 {
                got == 0.0
            } else {
                ((got - w) / w).abs() <= 1e-9
            };
            assert!(ok, "{file}: d{s}/dt = {got}, roadrunner {w}");
        }
    }
}

/// Damaged copies of every reference file (an attribute or element removed everywhere) give a
/// result or an error, never a panic.
#[test]
fn damaged_documents_never_panic() {
    let mut files = Vec::new();
    for dir in ["biomodels", "sbml-more"] {
        for e in std::fs::read_dir(reference(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xml") {
                files.push(p);
            }
        }
    }
    let attrs = [
        "id",
        "compartment",
        "size",
        "value",
        "species",
        "variable",
        "symbol",
        "initialConcentration",
        "level",
        "definitionURL",
        "stoichiometry",
        "kind",
        "multiplier",
    ];
    let tags = ["otherwise", "bvar", "kineticLaw", "listOfUnits", "ci", "cn"];
    for path in files {
        let xml = std::fs::read_to_string(&path).unwrap();
        for a in attrs {
            let damaged = xml.replace(&format!(" {a}=\""), " x_removed=\"");
            let _ = sbml_to_toml(&damaged, "damaged.xml");
        }
        for t in tags {
            let damaged = xml
                .replace(&format!("<{t}>"), "<removed>")
                .replace(&format!("</{t}>"), "</removed>");
            let _ = sbml_to_toml(&damaged, "damaged.xml");
        }
        // Truncated documents are malformed XML.
        let half = xml.char_indices().nth(xml.chars().count() / 2).unwrap().0;
        let err = sbml_to_toml(&xml[..half], "half.xml").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("half.xml: malformed SBML: not well-formed XML"));
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// `<listOfEvents>` with one event: `trigger` MathML, `attrs` on <trigger>, `body` inside <event>.
fn event(id: &str, trigger: &str, attrs: &str, body: &str) -> String {
    format!(
        r#"<event id="{id}" useValuesFromTriggerTime="false"><trigger {attrs}><math xmlns="http://www.w3.org/1998/Math/MathML">{trigger}</math></trigger>{body}</event>"#
    )
}

const TIME: &str = r#"<csymbol definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol>"#;

fn set_a(math: &str) -> String {
    format!(
        r#"<listOfEventAssignments><eventAssignment variable="A"><math xmlns="http://www.w3.org/1998/Math/MathML">{math}</math></eventAssignment></listOfEventAssignments>"#
    )
}

/// A(t) in the tiny model (dA/dt = -6 A per hour, A in concentration) sampled at `days`.
fn run_tiny(events: &str, days: &[f64]) -> Vec<f64> {
    let xml = doc(&format!("<listOfEvents>{events}</listOfEvents>"), RATE);
    let text = sbml_to_toml(&xml, "tiny.xml").unwrap_or_else(|e| panic!("{e}"));
    let m = cartox::model::Model::from_toml(&text, "tiny.toml").unwrap();
    let end = *days.last().unwrap();
    let opts = cartox::RunOptions {
        days: end,
        dt: end,
        window: end,
        solver: cartox::solve::SolverOptions {
            rtol: 1e-10,
            atol: 1e-12,
            ..Default::default()
        },
        ..Default::default()
    };
    let run = cartox::run(&m, &cartox::regimen::Inputs::default(), &opts).unwrap();
    cartox::trajectory::Trajectory::sample(&m, &run.solution, &run.scenario.params, days)
        .column("A")
        .unwrap()
}

#[test]
fn time_triggered_event_translates_and_runs() {
    // time >= k (k = 0.5 h): A := A + 5 (concentration, like the species symbol), zero delay.
    let ev = event(
        "bolus",
        &format!("<apply><geq/>{TIME}<ci>k</ci></apply>"),
        r#"initialValue="true" persistent="false""#,
        &format!(
            r#"<delay><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>0</cn></math></delay>{}"#,
            set_a("<apply><plus/><ci>A</ci><cn>5</cn></apply>")
        ),
    );
    let xml = doc(&format!("<listOfEvents>{ev}</listOfEvents>"), RATE);
    let m: toml::Table = sbml_to_toml(&xml, "tiny.xml").unwrap().parse().unwrap();
    let e = &m["events"][0];
    assert_eq!(e["name"].as_str(), Some("bolus"));
    assert_eq!(e["time"].as_str(), Some("k"));
    assert_eq!(e["set"]["A"].as_str(), Some("(A + 5)"));
    // Closed form, hours: A = 2 exp(-6 t) before 0.5 h, (2 exp(-3) + 5) exp(-6 (t - 0.5)) after.
    let hours = [0.25, 0.5, 0.75, 1.0];
    let days: Vec<f64> = hours.iter().map(|h| h / 24.0).collect();
    let a = run_tiny(&ev, &days);
    for (h, got) in hours.iter().zip(&a) {
        let want = if *h < 0.5 {
            2.0 * (-6.0 * h).exp()
        } else {
            (2.0 * (-3.0f64).exp() + 5.0) * (-6.0 * (h - 0.5)).exp()
        };
        assert!(
            (got - want).abs() <= 1e-8 * want,
            "A({h} h) = {got}, want {want}"
        );
    }
    // The mirrored form `k < time` means the same crossing.
    let ev2 = ev.replace(
        &format!("<apply><geq/>{TIME}<ci>k</ci></apply>"),
        &format!("<apply><lt/><ci>k</ci>{TIME}</apply>"),
    );
    assert_eq!(run_tiny(&ev2, &days), a);
}

#[test]
fn trigger_true_at_t0_fires_only_with_initial_value_false() {
    let trig = format!("<apply><geq/>{TIME}<cn>0</cn></apply>");
    let body = set_a("<cn>10</cn>");
    let fires = event(
        "now",
        &trig,
        r#"initialValue="false" persistent="true""#,
        &body,
    );
    let a = run_tiny(&fires, &[0.0, 0.5 / 24.0]);
    assert_eq!(a[0], 10.0);
    let never = event(
        "never",
        &trig,
        r#"initialValue="true" persistent="true""#,
        &body,
    );
    let xml = doc(&format!("<listOfEvents>{never}</listOfEvents>"), RATE);
    let m: toml::Table = sbml_to_toml(&xml, "tiny.xml").unwrap().parse().unwrap();
    assert!(m.get("events").is_none());
    assert!(m["model"]["description"]
        .as_str()
        .unwrap()
        .contains("Event 'never' was not translated"));
    assert_eq!(run_tiny(&never, &[0.0, 0.1])[0], 2.0);
}

#[test]
fn events_beyond_time_crossings_import_as_triggered_events() {
    let ta = format!("<apply><geq/>{TIME}<cn>1</cn></apply>");
    let events = [
        // state-dependent trigger
        event(
            "by_state",
            "<apply><lt/><ci>A</ci><cn>1</cn></apply>",
            r#"initialValue="true" persistent="true""#,
            &set_a("<cn>1</cn>"),
        ),
        // non-zero delay
        event(
            "delayed",
            &ta,
            r#"initialValue="true" persistent="true""#,
            &format!(
                r#"<delay><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>2</cn></math></delay>{}"#,
                set_a("<cn>1</cn>")
            ),
        ),
        // a parameter target
        event(
            "on_param",
            &ta,
            r#"initialValue="true" persistent="true""#,
            r#"<listOfEventAssignments><eventAssignment variable="k"><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></eventAssignment></listOfEventAssignments>"#,
        ),
        // a priority among several events
        event(
            "ranked",
            &ta,
            r#"initialValue="true" persistent="true""#,
            &format!(
                r#"<priority><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></priority>{}"#,
                set_a("<cn>1</cn>")
            ),
        ),
        // time crossing a state-dependent threshold
        event(
            "moving",
            &format!("<apply><gt/>{TIME}<ci>A</ci></apply>"),
            r#"initialValue="true" persistent="true""#,
            &set_a("<cn>1</cn>"),
        ),
    ];
    let xml = doc(
        &format!("<listOfEvents>{}</listOfEvents>", events.concat()),
        RATE,
    );
    let text = sbml_to_toml(&xml, "tiny.xml").unwrap_or_else(|e| panic!("{e}"));
    let m: toml::Table = text.parse().unwrap();
    let events = m["events"].as_array().unwrap();
    let triggers: Vec<&str> = events
        .iter()
        .map(|e| e["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(
        triggers,
        ["(A < 1)", "(t >= 1)", "(t >= 1)", "(t >= 1)", "(t > A)"]
    );
    assert_eq!(events[1]["delay"].as_str(), Some("2"));
    assert_eq!(events[2]["set"]["k"].as_str(), Some("1"));
    assert_eq!(events[3]["priority"].as_str(), Some("1"));
    assert!(events
        .iter()
        .all(|e| e["values_at_trigger"].as_bool() == Some(false)));
    cartox::model::Model::from_toml(&text, "tiny.toml").unwrap();
    // Reset to A = 2 when A (2 at t = 0, dA/dt = -6 A per hour) falls below 1: period ln 2 / 6 h;
    // 1.5 periods in, A = 2 / sqrt 2.
    let reset = event(
        "reset",
        "<apply><lt/><ci>A</ci><cn>1</cn></apply>",
        r#"initialValue="true" persistent="true""#,
        &set_a("<cn>2</cn>"),
    );
    let day = 1.5 * 2f64.ln() / 6.0 / 24.0;
    let a = run_tiny(&reset, &[0.0, day]);
    assert!((a[1] - 2f64.sqrt()).abs() < 1e-8, "A = {}", a[1]);
    // What triggered events still cannot do is named, all together.
    // (An event resizing a compartment is translated: tests/variable_compartments.rs.)
    let bad = [event(
        "on_unknown",
        "<apply><lt/><ci>A</ci><cn>1</cn></apply>",
        r#"initialValue="true" persistent="true""#,
        r#"<listOfEventAssignments><eventAssignment variable="nope"><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></eventAssignment></listOfEventAssignments>"#,
    )];
    let xml = doc(
        &format!("<listOfEvents>{}</listOfEvents>", bad.concat()),
        RATE,
    );
    let err = sbml_to_toml(&xml, "bad.xml").unwrap_err();
    let e = err.to_string();
    let needle = "the assignment to 'nope' of event 'on_unknown': unknown symbol 'nope'";
    assert!(e.contains(needle), "`{needle}` missing from: {e}");
    assert_eq!(err.problems.len(), 1, "{e}");
}

//! Test helpers: the right-hand sides of a translated model file at t0, evaluated with the
//! crate's own expression evaluator (`cartox::expr`: parse, compile, eval).

use std::collections::HashMap;

/// Evaluates `text` with variables from `vars`; errors name the unknown identifier or bad token.
pub fn eval(text: &str, vars: &HashMap<String, f64>) -> Result<f64, String> {
    let ast = cartox::expr::parse(text).map_err(|e| format!("{e} at {} in {text}", e.pos))?;
    let names: Vec<&str> = ast.names().into_iter().map(|(n, _)| n).collect();
    let mut values = Vec::with_capacity(names.len());
    for n in &names {
        values.push(*vars.get(*n).ok_or(format!("unknown identifier {n}"))?);
    }
    let node = ast
        .compile(&|n| names.iter().position(|x| *x == n))
        .map_err(|e| format!("{e} in {text}"))?;
    Ok(node.eval(&values))
}

/// Values of parameters, states (initial values), `t` = 0 and assignments (in dependency order),
/// then d state/dt at t0, from a translated model file.
pub fn derivatives_at_t0(model: &toml::Table) -> Result<HashMap<String, f64>, String> {
    let mut vars: HashMap<String, f64> = HashMap::new();
    vars.insert("t".into(), 0.0);
    let arr = |key: &str| {
        model
            .get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    for p in arr("parameters") {
        vars.insert(
            p["name"].as_str().unwrap().into(),
            p["value"].as_float().unwrap(),
        );
    }
    let params = vars.clone();
    for s in arr("states") {
        let v = match &s["initial"] {
            toml::Value::String(e) => eval(e, &params)?,
            v => v.as_float().or(v.as_integer().map(|i| i as f64)).unwrap(),
        };
        vars.insert(s["name"].as_str().unwrap().into(), v);
    }
    // Assignments: evaluate repeatedly until all are known (file order does not matter).
    let mut pending: Vec<(String, String)> = arr("assignments")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().into(),
                a["expr"].as_str().unwrap().into(),
            )
        })
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(n, e)| match eval(e, &vars) {
            Ok(v) => {
                vars.insert(n.clone(), v);
                false
            }
            Err(_) => true,
        });
        if pending.len() == before {
            return Err(format!("assignments cannot be evaluated: {pending:?}"));
        }
    }
    let eqs = model["equations"].as_table().unwrap();
    eqs.iter()
        .map(|(k, v)| Ok((k.clone(), eval(v.as_str().unwrap(), &vars)?)))
        .collect()
}

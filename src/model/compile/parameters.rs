//! Stage 2: parameters (finite defaults within their bounds, omega2 >= 0) and the correlations
//! between their random effects (`[[correlations]]`: a positive definite matrix per block).

use super::super::location::Locator;
use super::super::spec;
use super::super::{correlation_block, correlation_matrix, Correlation, ModelError, Parameter};

/// Compile `[[parameters]]`.
pub(super) fn parameters(
    params: &[spec::Parameter],
    loc: &Locator,
) -> Result<Vec<Parameter>, ModelError> {
    let np = params.len();
    // Parameters: finite values within their bounds.
    let mut parameters = Vec::with_capacity(np);
    for p in params {
        let name = p.name.get_ref();
        let value = *p.value.get_ref();
        if !value.is_finite() {
            return Err(loc.at(&p.value, format!("parameter `{name}`: value is not finite")));
        }
        let lower = p.lower.as_ref().map(|b| *b.get_ref());
        let upper = p.upper.as_ref().map(|b| *b.get_ref());
        if let (Some(l), Some(u)) = (lower, upper) {
            if l > u {
                return Err(loc.at(
                    &p.value,
                    format!("parameter `{name}`: lower bound {l} is above upper bound {u}"),
                ));
            }
        }
        if lower.is_some_and(|l| value < l) || upper.is_some_and(|u| value > u) {
            return Err(loc.at(
                &p.value,
                format!("parameter `{name}`: value {value} is outside its bounds"),
            ));
        }
        let omega2 = p.omega2.as_ref().map(|o| *o.get_ref());
        if let (Some(o), Some(span)) = (omega2, p.omega2.as_ref()) {
            if !(o.is_finite() && o >= 0.0) {
                return Err(loc.at(span, format!("parameter `{name}`: omega2 must be >= 0")));
            }
        }
        if p.bernoulli && (omega2.is_some() || !(0.0..=1.0).contains(&value)) {
            return Err(loc.at(
                &p.value,
                format!("parameter `{name}`: a bernoulli draw needs a value (its probability) in [0, 1] and no omega2"),
            ));
        }
        parameters.push(Parameter {
            name: name.clone(),
            value,
            unit: p.unit.clone(),
            description: p.description.clone(),
            source: p.source.clone(),
            lower,
            upper,
            omega2,
            bernoulli: p.bernoulli,
        });
    }

    Ok(parameters)
}

/// Compile `[[correlations]]` against the compiled parameters.
pub(super) fn correlations(
    spec: &[spec::Correlation],
    parameters: &[Parameter],
    loc: &Locator,
) -> Result<Vec<Correlation>, ModelError> {
    // Correlations between random effects: two distinct parameters with omega2, each pair once,
    // r in (-1, 1), and a positive definite correlation matrix.
    let mut correlations: Vec<Correlation> = Vec::with_capacity(spec.len());
    for (i, c) in spec.iter().enumerate() {
        let key = format!("correlations[{}]", i + 1);
        let names = c.between.get_ref();
        if names.len() != 2 {
            return Err(loc.at(
                &c.between,
                format!(
                    "{key}.between: expected two parameter names, got {}",
                    names.len()
                ),
            ));
        }
        let mut between = [0usize; 2];
        for (k, n) in names.iter().enumerate() {
            let name = n.get_ref();
            let Some(j) = parameters.iter().position(|p| &p.name == name) else {
                return Err(loc.at(n, format!("{key}.between: `{name}` is not a parameter")));
            };
            if parameters[j].omega2.is_none() {
                return Err(loc.at(
                    n,
                    format!(
                        "{key}.between: parameter `{name}` has no `omega2` (only random effects can be correlated)"
                    ),
                ));
            }
            between[k] = j;
        }
        let [a, b] = between;
        let (na, nb) = (&parameters[a].name, &parameters[b].name);
        if a == b {
            return Err(loc.at(
                &names[1],
                format!("{key}.between: `{na}` is paired with itself"),
            ));
        }
        if let Some(prev) = correlations
            .iter()
            .position(|o| o.between == [a, b] || o.between == [b, a])
        {
            return Err(loc.at(
                &c.between,
                format!(
                    "{key}.between: `{na}` and `{nb}` are already correlated by correlations[{}]",
                    prev + 1
                ),
            ));
        }
        let r = *c.r.get_ref();
        if !(r.is_finite() && r > -1.0 && r < 1.0) {
            return Err(loc.at(
                &c.r,
                format!("{key}.r: must be a finite number strictly between -1 and 1, got {r}"),
            ));
        }
        correlations.push(Correlation {
            between,
            r,
            description: c.description.clone(),
            source: c.source.clone(),
        });
    }
    // Each connected block of correlated parameters must have a positive definite correlation
    // matrix; the error points at the block's first entry.
    let mut checked: Vec<usize> = Vec::new();
    for (i, c) in correlations.iter().enumerate() {
        if checked.contains(&c.between[0]) {
            continue;
        }
        let block = correlation_block(&correlations, c.between[0]);
        checked.extend(&block);
        if correlation_matrix(&correlations, &block).is_none() {
            let names: Vec<String> = block
                .iter()
                .map(|&p| format!("`{}`", parameters[p].name))
                .collect();
            let entries: Vec<String> = correlations
                .iter()
                .enumerate()
                .filter(|(_, o)| block.contains(&o.between[0]))
                .map(|(k, _)| format!("correlations[{}]", k + 1))
                .collect();
            return Err(loc.at(
                &spec[i].between,
                format!(
                    "correlations[{}]: the correlation matrix of {} ({}; pairs not declared have r = 0) is not positive definite",
                    i + 1,
                    names.join(", "),
                    entries.join(", ")
                ),
            ));
        }
    }

    Ok(correlations)
}

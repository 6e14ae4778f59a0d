//! Units: unit definitions, readable unit text for parameters and species, the model time unit.

use std::collections::HashMap;

use roxmltree::Node;

use super::xml::{attr_f64, list};
use super::{Problem, Translator};

/// One `<unit kind exponent scale multiplier>`.
pub(super) struct Unit {
    pub(super) kind: String,
    pub(super) exponent: f64,
    pub(super) scale: i32,
    pub(super) multiplier: f64,
}

pub(super) struct UnitDef {
    pub(super) name: Option<String>,
    pub(super) units: Vec<Unit>,
}

/// Human-readable text for a unit reference (a unitDefinition id or a base unit).
pub(super) fn unit_text(id: &str, defs: &HashMap<String, UnitDef>) -> String {
    let Some(def) = defs.get(id) else {
        // Base units, and the L2 built-ins when they are not redefined.
        return match id {
            "substance" => "mole".into(),
            "volume" => "litre".into(),
            other => other.into(),
        };
    };
    // COPASI names its definitions readably ("1/d", "#/ul"); generic names are spelled out.
    if let Some(n) = &def.name {
        if n != id && !["substance", "volume", "time", "area", "length"].contains(&n.as_str()) {
            return n.clone();
        }
    }
    let parts: Vec<String> = def
        .units
        .iter()
        .map(|u| {
            let kind = match u.kind.as_str() {
                "litre" | "liter" => "L",
                "second" => "s",
                "mole" => "mol",
                "gram" => "g",
                "metre" | "meter" => "m",
                k => k,
            };
            let prefix = match u.scale {
                0 => Some(""),
                3 => Some("k"),
                -1 => Some("d"),
                -2 => Some("c"),
                -3 => Some("m"),
                -6 => Some("u"),
                -9 => Some("n"),
                -12 => Some("p"),
                -15 => Some("f"),
                _ => None,
            };
            let base = match prefix {
                Some(pre) if u.multiplier == 1.0 => format!("{pre}{kind}"),
                _ => format!("({:?} {kind})", u.multiplier * 10f64.powi(u.scale)),
            };
            if u.exponent == 1.0 {
                base
            } else {
                format!("{base}^{}", u.exponent)
            }
        })
        .collect();
    parts.join("*")
}

impl Translator<'_, '_> {
    /// `<listOfUnitDefinitions>` and the model's time unit.
    pub(super) fn read_units(&mut self) {
        for ud in list(self.model, "listOfUnitDefinitions", "unitDefinition") {
            let units = list(ud, "listOfUnits", "unit")
                .into_iter()
                .map(|u| Unit {
                    kind: u.attribute("kind").unwrap_or("").to_string(),
                    exponent: attr_f64(u, "exponent").unwrap_or(1.0),
                    scale: attr_f64(u, "scale").unwrap_or(0.0) as i32,
                    multiplier: attr_f64(u, "multiplier").unwrap_or(1.0),
                })
                .collect();
            let name = ud.attribute("name").map(str::to_string);
            self.unit_defs.insert(
                ud.attribute("id").unwrap_or("").to_string(),
                UnitDef { name, units },
            );
        }
        self.time_unit = self.time_unit();
    }

    /// Readable unit text of an element's `units` attribute ("" without one).
    pub(super) fn unit_of(&self, n: Node) -> String {
        n.attribute("units")
            .map(|u| unit_text(u, &self.unit_defs))
            .unwrap_or_default()
    }

    /// The model's time unit: second, minute, hour, day, week (a multiple of the second within
    /// 1e-9) or dimensionless; any other unit is reported as unsupported.
    fn time_unit(&mut self) -> String {
        let (model, defs, level) = (self.model, &self.unit_defs, self.level);
        // L3: <model timeUnits="...">; L2: the redefinable built-in unit "time".
        let reference = if level == 3 {
            model.attribute("timeUnits")
        } else {
            Some("time")
        };
        let Some(unit_id) = reference else {
            self.notes
                .push("The SBML model declares no time unit; day was assumed.".into());
            return "day".into();
        };
        let seconds = match defs.get(unit_id) {
            Some(def) => match def.units.as_slice() {
                [u] if u.kind == "second" && u.exponent == 1.0 => {
                    Some(u.multiplier * 10f64.powi(u.scale))
                }
                [u] if u.kind == "dimensionless" && u.exponent == 1.0 => {
                    return "dimensionless".into()
                }
                _ => None,
            },
            None if unit_id == "second" => Some(1.0),
            None if unit_id == "dimensionless" => return "dimensionless".into(),
            None if level == 2 => {
                self.notes
                    .push("The SBML model declares no time unit; day was assumed.".into());
                return "day".into();
            }
            None => None,
        };
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y;
        let named = [
            (1.0, "second"),
            (60.0, "minute"),
            (3600.0, "hour"),
            (86400.0, "day"),
            (604800.0, "week"),
        ];
        match seconds {
            Some(s) => match named.iter().find(|(n, _)| close(s, *n)) {
                Some((_, name)) => (*name).into(),
                None => {
                    self.problems.push(Problem::unsupported(format!(
                        "time unit '{unit_id}' ({s} s): cartox models use second, minute, hour, \
                         day or week"
                    )));
                    "day".into()
                }
            },
            None => {
                self.problems.push(Problem::unsupported(format!(
                    "time unit '{unit_id}' is neither a multiple of the second nor dimensionless"
                )));
                "day".into()
            }
        }
    }
}

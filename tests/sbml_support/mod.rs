//! Test helpers: a tiny evaluator of the cartox expression language (docs/model-format.md), used
//! to check translated right-hand sides at t0. The engine's own evaluator will replace it.

use std::collections::HashMap;

/// Evaluates `text` with variables from `vars`; errors name the unknown identifier or bad token.
pub fn eval(text: &str, vars: &HashMap<String, f64>) -> Result<f64, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        vars,
    };
    let v = p.or()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing text at {} in {text}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    vars: &'a HashMap<String, f64>,
}

fn b(x: bool) -> f64 {
    if x {
        1.0
    } else {
        0.0
    }
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(tok.as_bytes()) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }
    // Precedence, lowest first: ||, &&, comparisons, + -, * /, unary - !, ^.
    fn or(&mut self) -> Result<f64, String> {
        let mut v = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            v = b(v != 0.0 || r != 0.0);
        }
        Ok(v)
    }
    fn and(&mut self) -> Result<f64, String> {
        let mut v = self.cmp()?;
        while self.eat("&&") {
            let r = self.cmp()?;
            v = b(v != 0.0 && r != 0.0);
        }
        Ok(v)
    }
    fn cmp(&mut self) -> Result<f64, String> {
        let mut v = self.add()?;
        loop {
            let op = ["<=", ">=", "==", "!=", "<", ">"]
                .into_iter()
                .find(|o| self.eat(o));
            let Some(op) = op else { return Ok(v) };
            let r = self.add()?;
            v = b(match op {
                "<=" => v <= r,
                ">=" => v >= r,
                "==" => v == r,
                "!=" => v != r,
                "<" => v < r,
                _ => v > r,
            });
        }
    }
    fn add(&mut self) -> Result<f64, String> {
        let mut v = self.mul()?;
        loop {
            if self.eat("+") {
                v += self.mul()?;
            } else if self.eat("-") {
                v -= self.mul()?;
            } else {
                return Ok(v);
            }
        }
    }
    fn mul(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        loop {
            if self.eat("*") {
                v *= self.unary()?;
            } else if self.eat("/") {
                v /= self.unary()?;
            } else {
                return Ok(v);
            }
        }
    }
    fn unary(&mut self) -> Result<f64, String> {
        if self.eat("-") {
            return Ok(-self.unary()?);
        }
        if self.s[self.i..].starts_with(b"!=") {
            return Err("unexpected !=".into());
        }
        if self.eat("!") {
            return Ok(b(self.unary()? == 0.0));
        }
        self.power()
    }
    fn power(&mut self) -> Result<f64, String> {
        let base = self.atom()?;
        if self.eat("^") {
            // Right-associative; the exponent may carry a unary minus.
            let e = self.unary()?;
            return Ok(base.powf(e));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<f64, String> {
        self.ws();
        if self.eat("(") {
            let v = self.or()?;
            return if self.eat(")") {
                Ok(v)
            } else {
                Err("missing )".into())
            };
        }
        let start = self.i;
        let c = *self.s.get(self.i).ok_or("unexpected end")?;
        if c.is_ascii_digit() || c == b'.' {
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.')
            {
                self.i += 1;
            }
            if self.i < self.s.len() && (self.s[self.i] | 0x20) == b'e' {
                self.i += 1;
                if self.i < self.s.len() && (self.s[self.i] == b'+' || self.s[self.i] == b'-') {
                    self.i += 1;
                }
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
            }
            let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
            return t.parse().map_err(|_| format!("bad number {t}"));
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
            {
                self.i += 1;
            }
            let name = std::str::from_utf8(&self.s[start..self.i])
                .unwrap()
                .to_string();
            if self.eat("(") {
                let mut args = vec![self.or()?];
                while self.eat(",") {
                    args.push(self.or()?);
                }
                if !self.eat(")") {
                    return Err(format!("missing ) after {name}("));
                }
                let a = &args;
                let need = |n: usize| {
                    if a.len() == n {
                        Ok(())
                    } else {
                        Err(format!("{name} takes {n} arguments"))
                    }
                };
                return match name.as_str() {
                    "if" => need(3).map(|_| if a[0] != 0.0 { a[1] } else { a[2] }),
                    "min" => need(2).map(|_| a[0].min(a[1])),
                    "max" => need(2).map(|_| a[0].max(a[1])),
                    "pow" => need(2).map(|_| a[0].powf(a[1])),
                    "abs" => need(1).map(|_| a[0].abs()),
                    "exp" => need(1).map(|_| a[0].exp()),
                    "ln" | "log" => need(1).map(|_| a[0].ln()),
                    "log10" => need(1).map(|_| a[0].log10()),
                    "sqrt" => need(1).map(|_| a[0].sqrt()),
                    "floor" => need(1).map(|_| a[0].floor()),
                    "ceil" => need(1).map(|_| a[0].ceil()),
                    _ => Err(format!("unknown function {name}")),
                };
            }
            if name == "pi" {
                return Ok(std::f64::consts::PI);
            }
            return self
                .vars
                .get(&name)
                .copied()
                .ok_or(format!("unknown identifier {name}"));
        }
        Err(format!("unexpected '{}'", c as char))
    }
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

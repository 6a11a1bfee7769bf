//! G-code templates: `{name}` and `{name[N]}` placeholders filled from the settings.

use std::collections::BTreeMap;

use toml::Value;

use super::resolve::ProfileError;
use super::settings::Settings;

/// Values a template may use: every setting (per-tool ones as lists), plus whatever
/// the caller adds (`layer_num`, `layer_z`, `previous_tool`, `next_tool`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateVars {
    values: BTreeMap<String, Vec<String>>,
}

/// A number as G-code wants it: no trailing zeros, no `-0`.
fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    }
}

fn value_strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Integer(i) => vec![i.to_string()],
        Value::Float(f) => vec![fmt_number(*f)],
        Value::Boolean(b) => vec![if *b { "1".into() } else { "0".into() }],
        Value::Array(a) => a.iter().map(|x| value_strings(x).join(",")).collect(),
        other => vec![other.to_string()],
    }
}

impl TemplateVars {
    /// Every setting of `s`: printer and print settings by name, material settings as
    /// per-tool lists (`{temperature[1]}`; `{temperature}` is tool 0's).
    pub fn from_settings(s: &Settings) -> TemplateVars {
        let mut vars = TemplateVars::default();
        for table in [
            toml::Table::try_from(&s.printer),
            toml::Table::try_from(&s.print),
        ]
        .into_iter()
        .flatten()
        {
            for (k, v) in table {
                vars.values.insert(k, value_strings(&v));
            }
        }
        for (tool, m) in s.materials.iter().enumerate() {
            if let Ok(table) = toml::Table::try_from(m) {
                for (k, v) in table {
                    let list = vars.values.entry(k).or_default();
                    list.resize(tool, String::new());
                    list.push(value_strings(&v).join(","));
                }
            }
        }
        vars.set("tools", s.printer.tools());
        vars
    }

    /// Set a single value.
    pub fn set(&mut self, key: &str, value: impl std::fmt::Display) {
        self.values.insert(key.to_string(), vec![value.to_string()]);
    }

    /// Set a number, formatted for G-code.
    pub fn set_number(&mut self, key: &str, value: f64) {
        self.values.insert(key.to_string(), vec![fmt_number(value)]);
    }

    /// Set a per-tool list.
    pub fn set_list(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_string(), values);
    }

    fn get(&self, key: &str, index: usize) -> Option<&str> {
        self.values.get(key)?.get(index).map(String::as_str)
    }
}

/// Fill `{name}` / `{name[N]}` placeholders; `{{` and `}}` are literal braces. An
/// unknown placeholder is an error naming it.
///
/// ```
/// use lamina::profile::{render_template, TemplateVars};
/// let mut v = TemplateVars::default();
/// v.set("bed_temperature", 60);
/// v.set_list("temperature", vec!["215".into(), "200".into()]);
/// let g = render_template("M190 S{bed_temperature}\nM104 T1 S{temperature[1]}", &v).unwrap();
/// assert_eq!(g, "M190 S60\nM104 T1 S200");
/// assert!(render_template("M104 S{nozzle_temp}", &v).is_err());
/// ```
pub fn render_template(template: &str, vars: &TemplateVars) -> Result<String, ProfileError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(ProfileError::Template(
                "a '}' without its '{' in a G-code template (write '}}' for a literal brace)"
                    .into(),
            ));
        }
        let end = tail.find('}').ok_or_else(|| {
            ProfileError::Template(format!(
                "placeholder '{}' is not closed with '}}' in a G-code template",
                tail.lines().next().unwrap_or(tail)
            ))
        })?;
        let inner = tail[1..end].trim();
        let (name, index) = match inner.split_once('[') {
            Some((n, idx)) => {
                let idx = idx
                    .strip_suffix(']')
                    .and_then(|x| x.trim().parse::<usize>().ok());
                match idx {
                    Some(i) => (n.trim(), i),
                    None => {
                        return Err(ProfileError::Template(format!(
                            "placeholder '{{{inner}}}' has a bad index in a G-code template"
                        )));
                    }
                }
            }
            None => (inner, 0),
        };
        let value = vars.get(name, index).ok_or_else(|| {
            ProfileError::Template(format!(
                "unknown placeholder '{{{inner}}}' in a G-code template"
            ))
        })?;
        out.push_str(value);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_tight() {
        assert_eq!(fmt_number(215.0), "215");
        assert_eq!(fmt_number(0.2), "0.2");
        assert_eq!(fmt_number(-0.00001), "0");
        assert_eq!(fmt_number(1.75), "1.75");
    }

    #[test]
    fn braces_escape_and_errors_name_the_placeholder() {
        let v = TemplateVars::default();
        assert_eq!(render_template("{{literal}}", &v).unwrap(), "{literal}");
        let e = render_template("G1 {foo[x]}", &v).unwrap_err().to_string();
        assert!(e.contains("{foo[x]}"), "{e}");
        assert!(render_template("G1 {unclosed", &v).is_err());
    }
}

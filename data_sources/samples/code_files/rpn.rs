//! A small reverse Polish notation calculator.
//!
//! `evaluate("3 4 + 2 *")` returns `Ok(14.0)`.

use std::fmt;

#[derive(Debug, PartialEq)]
pub enum RpnError {
    StackUnderflow(String),
    UnknownToken(String),
    DivisionByZero,
    LeftoverValues(usize),
    Empty,
}

impl fmt::Display for RpnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpnError::StackUnderflow(op) => write!(f, "not enough operands for '{}'", op),
            RpnError::UnknownToken(t) => write!(f, "unknown token '{}'", t),
            RpnError::DivisionByZero => write!(f, "division by zero"),
            RpnError::LeftoverValues(n) => write!(f, "{} values left on the stack", n),
            RpnError::Empty => write!(f, "empty expression"),
        }
    }
}

impl std::error::Error for RpnError {}

pub fn evaluate(expr: &str) -> Result<f64, RpnError> {
    let mut stack: Vec<f64> = Vec::new();
    for token in expr.split_whitespace() {
        match token {
            "+" | "-" | "*" | "/" | "^" => {
                let b = stack.pop().ok_or_else(|| RpnError::StackUnderflow(token.to_string()))?;
                let a = stack.pop().ok_or_else(|| RpnError::StackUnderflow(token.to_string()))?;
                let value = match token {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "/" => {
                        if b == 0.0 {
                            return Err(RpnError::DivisionByZero);
                        }
                        a / b
                    }
                    _ => a.powf(b),
                };
                stack.push(value);
            }
            _ => {
                let n: f64 = token
                    .parse()
                    .map_err(|_| RpnError::UnknownToken(token.to_string()))?;
                stack.push(n);
            }
        }
    }
    match stack.len() {
        0 => Err(RpnError::Empty),
        1 => Ok(stack[0]),
        n => Err(RpnError::LeftoverValues(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_arithmetic() {
        assert_eq!(evaluate("3 4 + 2 *"), Ok(14.0));
        assert_eq!(evaluate("2 3 ^"), Ok(8.0));
    }

    #[test]
    fn errors() {
        assert_eq!(evaluate("1 +"), Err(RpnError::StackUnderflow("+".into())));
        assert_eq!(evaluate("1 0 /"), Err(RpnError::DivisionByZero));
        assert_eq!(evaluate("1 2"), Err(RpnError::LeftoverValues(2)));
        assert_eq!(evaluate(""), Err(RpnError::Empty));
    }
}

//! The network quantities a derivation can bind (`[network] bind = { q = "sigma 1 1", … }`): one
//! table, from which the [`Quantity`] enum, parsing, the listing of what can be bound (in error
//! messages) and the properties the loader and the width study ask about are all derived.
//!
//! Adding a quantity is adding a row to the table below and its evaluation arm in
//! `limit::network_draw` (the compiler asks for the arm: the match there is exhaustive).
//!
//! A row reads `Name(args) = "syntax", array: …, drawn: …, training: …;` with its doc comment:
//! the syntax is words separated by single spaces, each `A` or `B` an input number (from 1), one
//! per argument in order; `array` says the quantity is an array (over 1..n) rather than a number,
//! `drawn` that it changes from draw to draw (or with the width), `training` that it needs the
//! `[network]` table's `train`.

/// The type of one argument of a quantity: an input number, from 1.
macro_rules! input_number {
    ($arg:ident) => {
        usize
    };
}

macro_rules! quantities {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident $(($($arg:ident),+))? = $syntax:literal,
            array: $array:literal, drawn: $drawn:literal, training: $training:literal;
    )+) => {
        /// A quantity of a sampled network (or of its infinite-width kernels) a symbol can stand
        /// for. Inputs are numbered from 1; L is the number of hidden layers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Quantity {
            $( $(#[doc = $doc])+ $name $(($(input_number!($arg)),+))?, )+
        }

        /// Every quantity, in the order they are listed to the user.
        pub const TABLE: &[Row] = &[$(
            Row {
                syntax: $syntax,
                doc: concat!($($doc),+),
                array: $array,
                drawn: $drawn,
                training: $training,
                build: |args: &[usize]| {
                    #[allow(unused_mut, unused_variables)]
                    let mut args = args.iter().copied();
                    Quantity::$name $(($({
                        let $arg = args.next().expect("one input number per placeholder");
                        $arg
                    }),+))?
                },
            },
        )+];

        impl Quantity {
            /// The quantity's row of [`TABLE`].
            pub fn row(self) -> &'static Row {
                let syntax = match self {
                    $( Quantity::$name { .. } => $syntax, )+
                };
                TABLE
                    .iter()
                    .find(|r| r.syntax == syntax)
                    .expect("every quantity has a row")
            }
        }
    };
}

quantities! {
    /// The hidden width n.
    Width = "width", array: false, drawn: true, training: false;
    /// σw.
    SigmaW = "sigma_w", array: false, drawn: false, training: false;
    /// σb.
    SigmaB = "sigma_b", array: false, drawn: false, training: false;
    /// The input dimension n₀.
    InputDim = "input dimension", array: false, drawn: false, training: false;
    /// Input a (an array).
    Input(a) = "input A", array: true, drawn: false, training: false;
    /// The pre-activations h^L of the last hidden layer at input a (an array over 1..n).
    Preactivation(a) = "preactivation A", array: true, drawn: true, training: false;
    /// The infinite-width Σ^L(x_a, x_b) of the last hidden layer's pre-activations.
    Sigma(a, b) = "sigma A B", array: false, drawn: false, training: false;
    /// The infinite-width Θ^L(x_a, x_b) of the last hidden layer.
    Theta(a, b) = "theta A B", array: false, drawn: false, training: false;
    /// The infinite-width Σ̇^L(x_a, x_b) = σw²·E[φ'(u)φ'(v)] under Σ^(L−1) (needs L ≥ 2).
    SigmaDot(a, b) = "sigma_dot A B", array: false, drawn: false, training: false;
    /// The network's empirical NNGP Σ̂^(L+1)(x_a, x_b) = σw²/n·φ(h^L(x_a))·φ(h^L(x_b)) + σb².
    EmpiricalNngp(a, b) = "empirical nngp A B", array: false, drawn: true, training: false;
    /// The network's empirical NTK Θ̂^(L+1)(x_a, x_b) = Σ_θ ∂f(x_a)/∂θ·∂f(x_b)/∂θ.
    EmpiricalNtk(a, b) = "empirical ntk A B", array: false, drawn: true, training: false;
    /// The infinite-width NNGP Σ^(L+1)(x_a, x_b) of the network's output.
    Nngp(a, b) = "nngp A B", array: false, drawn: false, training: false;
    /// The infinite-width NTK Θ^(L+1)(x_a, x_b) of the network's output.
    Ntk(a, b) = "ntk A B", array: false, drawn: false, training: false;
    /// The network's output f(x_a) at initialisation.
    Output(a) = "output A", array: false, drawn: true, training: false;
    /// The network's output f(x_a) after training (see [`Train`](super::file::Train)).
    TrainedOutput(a) = "trained output A", array: false, drawn: true, training: true;
    /// The training target y.
    Target = "target", array: false, drawn: false, training: true;
    /// The learning rate η.
    Eta = "eta", array: false, drawn: false, training: true;
    /// The training time t.
    Time = "time", array: false, drawn: false, training: true;
}

/// One row of [`TABLE`]: a quantity's syntax, doc and properties.
#[derive(Debug)]
pub struct Row {
    /// How it is written: words, each `A` or `B` an input number.
    pub syntax: &'static str,
    /// What it is.
    pub doc: &'static str,
    /// It is an array (over 1..n), not a number.
    pub array: bool,
    /// It changes from draw to draw (or with the width).
    pub drawn: bool,
    /// It needs the `[network]` table's `train`.
    pub training: bool,
    /// The quantity, from its input numbers in order.
    build: fn(&[usize]) -> Quantity,
}

/// Is this word of a syntax an input number?
fn placeholder(word: &str) -> bool {
    matches!(word, "A" | "B")
}

impl Row {
    /// How many input numbers the quantity takes.
    pub fn arity(&self) -> usize {
        self.syntax.split(' ').filter(|w| placeholder(w)).count()
    }
}

/// What can be bound, for error messages: every row's syntax, in table order.
pub fn listing() -> String {
    TABLE
        .iter()
        .map(|r| r.syntax)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Quantity {
    /// Does the quantity stand for an array (rather than a number)?
    pub fn is_array(self) -> bool {
        self.row().array
    }

    /// Does it change from draw to draw (or with the width)?
    pub fn is_drawn(self) -> bool {
        self.row().drawn
    }

    /// Does it need the `[network]` table's `train`?
    pub fn needs_training(self) -> bool {
        self.row().training
    }

    /// Parse a quantity of a network with `inputs` inputs: the first row whose words match,
    /// its input numbers in 1..=inputs.
    pub fn parse(spec: &str, inputs: usize) -> Result<Quantity, String> {
        let words: Vec<&str> = spec.split_whitespace().collect();
        let num = |w: &str| -> Result<usize, String> {
            match w.parse::<usize>() {
                Ok(k) if (1..=inputs).contains(&k) => Ok(k),
                _ => Err(format!(
                    "`{w}` is not an input number (the network has inputs 1..{inputs})"
                )),
            }
        };
        for row in TABLE {
            let pattern: Vec<&str> = row.syntax.split(' ').collect();
            let fits = pattern.len() == words.len()
                && pattern
                    .iter()
                    .zip(&words)
                    .all(|(p, w)| placeholder(p) || p == w);
            if !fits {
                continue;
            }
            let mut args = vec![];
            for (p, w) in pattern.iter().zip(&words) {
                if placeholder(p) {
                    args.push(num(w)?);
                }
            }
            return Ok((row.build)(&args));
        }
        Err(format!("unknown network quantity `{spec}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_back_to_itself() {
        for row in TABLE {
            let args: Vec<&str> = ["1", "2"][..row.arity()].to_vec();
            let mut it = args.iter();
            let spec: Vec<&str> = row
                .syntax
                .split(' ')
                .map(|w| {
                    if placeholder(w) {
                        it.next().unwrap()
                    } else {
                        w
                    }
                })
                .collect();
            let q = Quantity::parse(&spec.join("  "), 2).unwrap();
            assert_eq!(q.row().syntax, row.syntax);
            assert!(!row.doc.trim().is_empty());
        }
        let syntaxes: std::collections::BTreeSet<&str> = TABLE.iter().map(|r| r.syntax).collect();
        assert_eq!(syntaxes.len(), TABLE.len(), "two rows with one syntax");
    }

    #[test]
    fn parsing_and_listing() {
        assert_eq!(Quantity::parse("sigma 1 2", 2), Ok(Quantity::Sigma(1, 2)));
        assert_eq!(
            Quantity::parse("input dimension", 2),
            Ok(Quantity::InputDim)
        );
        assert_eq!(Quantity::parse("input 2", 2), Ok(Quantity::Input(2)));
        assert_eq!(
            Quantity::parse("input dim", 2),
            Err("`dim` is not an input number (the network has inputs 1..2)".into())
        );
        assert_eq!(
            Quantity::parse("theta 1 3", 2),
            Err("`3` is not an input number (the network has inputs 1..2)".into())
        );
        assert_eq!(
            Quantity::parse("sigma_w 1", 2),
            Err("unknown network quantity `sigma_w 1`".into())
        );
        assert!(Quantity::TrainedOutput(1).needs_training());
        assert!(Quantity::Preactivation(1).is_array() && Quantity::Preactivation(1).is_drawn());
        assert_eq!(
            listing(),
            "width, sigma_w, sigma_b, input dimension, input A, preactivation A, sigma A B, theta A B, sigma_dot A B, empirical nngp A B, empirical ntk A B, nngp A B, ntk A B, output A, trained output A, target, eta, time"
        );
    }
}

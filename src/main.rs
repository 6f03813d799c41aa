//! The `derive` command line.

fn main() {
    println!("derive: under construction");
}

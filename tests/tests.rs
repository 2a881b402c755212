fn main() {}
mod support;
mod wheels;

pub mod wheelhouse;

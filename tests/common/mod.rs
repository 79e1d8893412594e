pub mod fake_graph;
pub mod ops;

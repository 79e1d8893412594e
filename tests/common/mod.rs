pub mod fake_graph;

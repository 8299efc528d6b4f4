//! A perfectly good component that exports a world the host does not know.
wit_bindgen::generate!({ path: "wit", world: "greeter" });

struct Greeter;

impl exports::example::greeter::greet::Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);

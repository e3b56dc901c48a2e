//! Renderings of a plan: JSON (the contract of `aib plan --format json`), text, DOT and Mermaid.

pub mod dot;
pub mod json;
pub mod mermaid;
pub mod text;

impl crate::Plan {
    /// `aib plan --format json`.
    pub fn render_json(&self) -> String {
        json::render(self)
    }

    /// `aib plan --format json`, written to `out` as it is made.
    pub fn write_json(&self, out: impl std::io::Write) -> std::io::Result<()> {
        json::write(self, out)
    }

    /// `aib plan` (text).
    pub fn render_text(&self) -> String {
        text::render(self)
    }

    /// `aib plan --format dot`.
    pub fn render_dot(&self) -> String {
        dot::render(self)
    }

    /// `aib plan --format mermaid`.
    pub fn render_mermaid(&self) -> String {
        mermaid::render(self)
    }
}

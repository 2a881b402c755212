//! The templates, compiled into the binary, in one strict environment: an undefined
//! value is an error, not an empty string, so a renamed context field cannot silently
//! drop a line from a Dockerfile.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::RenderError;

const TEMPLATES: &[(&str, &str)] = &[
    ("Dockerfile", include_str!("../../templates/Dockerfile.j2")),
    (
        "dockerignore",
        include_str!("../../templates/dockerignore.j2"),
    ),
    (
        "docker-bake.hcl",
        include_str!("../../templates/docker-bake.hcl.j2"),
    ),
    (
        "github-workflow.yml",
        include_str!("../../templates/github-workflow.yml.j2"),
    ),
];

fn environment() -> &'static Result<Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("template `{name}`: {e}"))?;
        }
        Ok(env)
    })
}

pub(super) fn render(name: &str, context: &impl Serialize) -> Result<String, RenderError> {
    let fail = |message: String| RenderError::Template {
        template: name.to_string(),
        message,
    };
    let env = environment().as_ref().map_err(|e| fail(e.clone()))?;
    let template = env.get_template(name).map_err(|e| fail(e.to_string()))?;
    template
        .render(minijinja::value::Serde(context))
        .map_err(|e| fail(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        let env = super::environment().as_ref().expect("templates compile");
        for (name, _) in super::TEMPLATES {
            assert!(
                env.get_template(name).is_ok(),
                "template `{name}` is missing"
            );
        }
    }
}

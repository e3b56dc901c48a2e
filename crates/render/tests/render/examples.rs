//! The example pipelines render for every unit.

use aib_render::render::{RenderInputs, Renderer};

use crate::common;

#[test]
fn every_example_unit_renders() {
    for p in ["pipelines/avd/aib.toml", "pipelines/linux-fleet/aib.toml"] {
        let m = common::load(&common::repo().join(p));
        let plan = common::plan(&m);
        let r = Renderer::new(&m);
        for u in plan.units() {
            let d = match r.render_in_plan(&plan, u, &RenderInputs::default()) {
                Ok(d) => d,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(d.template_name, u.template_name);
            assert_eq!(
                d.image_template["type"],
                "Microsoft.VirtualMachineImages/imageTemplates"
            );
        }
    }
}

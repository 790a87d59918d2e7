package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.module.ModuleDescriptor;
import org.junit.jupiter.api.Test;

/** The library is a module that exports its API package and needs nothing but java.base. */
class ModuleTest {

  @Test
  void theModuleExportsOnlyTheApiPackageAndRequiresOnlyJavaBase() {
    Module module = Pipeline.class.getModule();
    assertThat(module.isNamed()).as("the tests run inside the module").isTrue();
    ModuleDescriptor d = module.getDescriptor();
    assertThat(d.name()).isEqualTo("io.millrace.pipeline");
    assertThat(d.exports())
        .extracting(ModuleDescriptor.Exports::source)
        .containsExactly("io.millrace.pipeline");
    assertThat(d.exports()).allMatch(e -> !e.isQualified());
    assertThat(d.requires())
        .extracting(ModuleDescriptor.Requires::name)
        .containsExactly("java.base");
  }
}

package org.lars4j;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layers of docs/ARCHITECTURE.md, checked on the compiled main classes of lars4j-core and
 * lars4j-cuda (here, where both are on the class path): packages without
 * cycles; the exceptions, layouts and schedules below everything; the rule SPI free of the
 * engines; the engine SPI free of the facade and of the engines that implement it; the facade
 * free of the engine implementations (found through ServiceLoader) and of CUDA types.
 */
class ArchitectureTest {
    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        // Main classes only: lars4j-core's test jar is on this module's class path too.
        ImportOption notTestJars = location -> !location.contains("-tests.jar") && !location.contains("/test-classes/");
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).withImportOption(notTestJars)
                .importPackages("org.lars4j");
    }

    /** Every package of lars4j is its own slice, org.lars4j itself included. */
    private static final SliceAssignment BY_PACKAGE = new SliceAssignment() {
        @Override
        public SliceIdentifier getIdentifierOf(JavaClass c) {
            String p = c.getPackageName();
            return p.equals("org.lars4j") || p.startsWith("org.lars4j.") ? SliceIdentifier.of(p) : SliceIdentifier.ignore();
        }

        @Override
        public String getDescription() { return "packages of lars4j"; }
    };

    @Test
    void noPackageDependsOnItselfThroughAnother() {
        slices().assignedFrom(BY_PACKAGE).should().beFreeOfCycles().check(main);
    }

    @Test
    void exceptionsLayoutsAndSchedulesDependOnNothingAbove() {
        noClasses().that().resideInAnyPackage("org.lars4j.error..", "org.lars4j.layout..", "org.lars4j.schedule..")
                .should().dependOnClassesThat().resideInAnyPackage("org.lars4j", "org.lars4j.rule..", "org.lars4j.engine..", "org.lars4j.io..")
                .check(main);
    }

    @Test
    void rulesDoNotKnowTheEngines() {
        noClasses().that().resideInAnyPackage("org.lars4j.rule..")
                .should().dependOnClassesThat().resideInAnyPackage("org.lars4j", "org.lars4j.engine..", "org.lars4j.io..")
                .check(main);
    }

    @Test
    void theEngineSpiKnowsNeitherTheFacadeNorItsImplementations() {
        noClasses().that().resideInAPackage("org.lars4j.engine")
                .should().dependOnClassesThat().resideInAnyPackage("org.lars4j", "org.lars4j.engine.cpu..", "org.lars4j.engine.cuda..")
                .check(main);
    }

    @Test
    void theFacadeFindsEnginesWithoutNamingThemAndCarriesNoCudaTypes() {
        noClasses().that().resideInAPackage("org.lars4j")
                .should().dependOnClassesThat().resideInAnyPackage("org.lars4j.engine.cpu..", "org.lars4j.engine.cuda..", "org.bytedeco..")
                .check(main);
    }

    @Test
    void theReferenceKnowsNoEngine() {
        noClasses().that().resideInAPackage("org.lars4j.reference..")
                .should().dependOnClassesThat().resideInAnyPackage("org.lars4j", "org.lars4j.engine..", "org.lars4j.io..")
                .check(main);
    }

    @Test
    void eachRuleIsItsOwnUnit() {
        noClasses().that().resideInAPackage("org.lars4j.rule.lars..")
                .should().dependOnClassesThat().resideInAPackage("org.lars4j.rule.lamb..").check(main);
        noClasses().that().resideInAPackage("org.lars4j.rule.lamb..")
                .should().dependOnClassesThat().resideInAPackage("org.lars4j.rule.lars..").check(main);
    }

    @Test
    void theEnginesDoNotKnowEachOther() {
        noClasses().that().resideInAPackage("org.lars4j.engine.cuda..")
                .should().dependOnClassesThat().resideInAPackage("org.lars4j.engine.cpu..").check(main);
    }

    @Test
    void theJavaEngineNeedsNoNativeCode() {
        noClasses().that().resideInAPackage("org.lars4j.engine.cpu..")
                .should().dependOnClassesThat().resideInAnyPackage("org.lars4j.engine.cuda..", "org.bytedeco..")
                .check(main);
    }
}

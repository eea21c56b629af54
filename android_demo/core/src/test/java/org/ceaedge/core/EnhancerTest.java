package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EnhancerTest {
    @Test
    void equalsPythonRestorePhotoInBothModes() {
        int[][] sizes = {{70, 45}, {10, 100}};
        for (int[] size : sizes) {
            String name = size[0] + "_" + size[1];
            int[] argb = Fixtures.get("restore_in_" + name).argb();
            for (String mode : new String[] {Enhancer.GLOBAL, Enhancer.TILE}) {
                TestModels.Affine model = new TestModels.Affine(24);
                int[] restored = new Enhancer(model, 32, 8, 24).restore(argb, size[0], size[1], mode, null);
                assertArrayEquals(Fixtures.get("restore_" + mode + "_" + name).argb(), restored, name + " " + mode);
                assertEquals(Enhancer.GLOBAL.equals(mode) ? 1 : 0, model.contextCalls, "context runs once in global mode");
                assertEquals(TilePlan.plan(size[0], size[1], 32, 8).count(), model.runs);
            }
        }
    }

    @Test
    void globalModeChangesTheResultAndTileModeDoesNotNeedAContext() {
        int[] argb = Fixtures.get("restore_in_70_45").argb();
        int[] global = new Enhancer(new TestModels.Affine(24), 32, 8, 24).restore(argb, 70, 45, Enhancer.GLOBAL, null);
        int[] tile = new Enhancer(new TestModels.Affine(0), 32, 8, 0).restore(argb, 70, 45, Enhancer.TILE, null);
        boolean differs = false;
        for (int index = 0; index < argb.length; index++) {
            differs |= global[index] != tile[index];
        }
        assertTrue(differs);
    }

    @Test
    void badModesAndMissingContextAreUserErrors() {
        Enhancer tileOnly = new Enhancer(new TestModels.Identity(), 8, 2, 0);
        IllegalArgumentException noContext = assertThrows(IllegalArgumentException.class,
                () -> tileOnly.restore(new int[16], 4, 4, Enhancer.GLOBAL, null));
        assertTrue(noContext.getMessage().contains("tile"));
        assertThrows(IllegalArgumentException.class, () -> tileOnly.restore(new int[16], 4, 4, "whole", null));
    }
}

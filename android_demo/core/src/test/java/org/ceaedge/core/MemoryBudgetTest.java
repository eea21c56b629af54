package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MemoryBudgetTest {
    @Test
    void partsForASmallCase() {
        MemoryBudget budget = MemoryBudget.of(100, 50, 32, 8, 16, 1);
        assertEquals(32L * 50 * 4, budget.inputBand);
        assertEquals(32L * 50 * 16, budget.outputBand);
        assertEquals(3L * 32 * 50 * 4 + (100 + 2 * 50) * 4 + 50 * 4 + 32 * 4, budget.accumulators);
        assertEquals(2L * 3 * 32 * 32 * 4 + 32 * 32 * 4, budget.tileBatch);
        assertEquals(3L * 16 * 16 * 4 + 3 * 50 * 4, budget.contextImage);
        assertEquals(budget.inputBand + budget.outputBand + budget.accumulators + budget.tileBatch
                + budget.contextImage, budget.total());
        assertEquals(0, MemoryBudget.of(100, 50, 32, 8, 0, 1).contextImage);
    }

    @Test
    void photoSizesStayFarBelowAWholeImageInFloat() {
        MemoryBudget twelve = MemoryBudget.of(3000, 4000, 256, 32, 512, 1);
        MemoryBudget fortyEight = MemoryBudget.of(6000, 8000, 256, 32, 512, 1);
        System.out.println("[memory] 12 MP: " + twelve);
        System.out.println("[memory] 48 MP: " + fortyEight);
        assertTrue(twelve.total() < 3000L * 4000 * 12 / 3, "12 MP: under a third of the photo as float RGB");
        assertTrue(fortyEight.total() < 6000L * 8000 * 12 / 8, "48 MP: under an eighth of the photo as float RGB");
        assertTrue(fortyEight.total() < 2 * twelve.total());
    }
}

package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import org.junit.jupiter.api.Test;

/** The small pieces the app wires together: model file check, cancel, cost, the result sink. */
class AppCoreTest {
    @Test
    void programFileCheckMirrorsThePythonOne() {
        byte[] head = new byte[64];
        System.arraycopy("xxxxET12".getBytes(), 0, head, 0, 8);
        assertNull(ProgramFile.problem("m.pte", 64, head));
        assertTrue(ProgramFile.problem("m.pte", 63, head).contains("a file of 63 bytes"));
        head[7] = '3';
        String problem = ProgramFile.problem("m.pte", 1000, head);
        assertTrue(problem.contains("identifier 'ET13'") && problem.contains("cea_edge.export"), problem);
        assertTrue(ProgramFile.problem("m.pte", 0, new byte[0]).contains("0 bytes"));
    }

    /** Cancel mid-way: the enhancer stops at the next tile and the sink has only finished rows. */
    @Test
    void cancelStopsAtTheNextTile() {
        final Cancellation cancellation = new Cancellation();
        int height = 100;
        int width = 90;
        final int[] rowsSeen = {0};
        final int[] tilesSeen = {0};
        RowSink sink = new RowSink() {
            @Override
            public void writeRows(int firstRow, int rowCount, float[] rows) {
                rowsSeen[0] = firstRow + rowCount;
            }
        };
        Progress progress = cancellation.progress(new Progress() {
            @Override
            public void update(int done, int total) {
                tilesSeen[0] = done;
                if (done == 7) {
                    cancellation.cancel();
                }
            }
        });
        int[] argb = new int[height * width];
        Enhancer enhancer = new Enhancer(new TestModels.Affine(24), 32, 8, 24);
        assertThrows(Cancellation.Cancelled.class, () -> enhancer.restore(new ArgbImage(argb, height, width), height,
                width, Enhancer.GLOBAL, sink, progress));
        assertEquals(7, tilesSeen[0]);
        assertTrue(rowsSeen[0] < height, "rows after the cancel were written");
    }

    @Test
    void resultNamesFollowTheCli() {
        assertEquals("IMG_1_enhanced.png", ResultName.of("IMG_1.JPG"));
        assertEquals("a.b_enhanced.png", ResultName.of("a.b.png"));
        assertEquals("photo_enhanced.png", ResultName.of(null));
        assertEquals("photo_enhanced.png", ResultName.of(".."));
        assertEquals(".hidden_enhanced.png", ResultName.of(".hidden"));
        assertEquals("x_y_enhanced.png", ResultName.of("dir/x:y.webp"));
    }

    @Test
    void costLine() {
        Cost cost = new Cost(192, 4, 6_000_000_000L, 12_000_000L);
        assertEquals(500.0, cost.millisPerMegapixel(), 1e-9);
        assertEquals("192 tiles, 4 threads, 6.0 s, 500 ms/MP", cost.toString());
        assertEquals("1 tiles, 1 thread, 0.0 s, 0 ms/MP", new Cost(1, 1, 0, 0).toString());
    }

    @Test
    void resultSinkFeedsPngAndPreviewAndReportsWriteErrors() throws IOException {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("no space left on device");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                throw new IOException("no space left on device");
            }
        };
        ByteArrayOutputStream header = new ByteArrayOutputStream();
        PngWriter ok = new PngWriter(header, 2, 2, null, 1);
        Preview preview = new Preview(2, 2, 1);
        ResultSink sink = new ResultSink(2, ok, preview);
        sink.writeRows(0, 2, new float[] {1, 1, 1, 1, 0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f});
        ok.finish();
        assertEquals(Pixels.argb(255, 0, 128), preview.pixels()[0]);
        // a stream that fails from the first write: the header fails in the constructor
        assertThrows(IOException.class, () -> new PngWriter(broken, 2, 2, null, 1));
    }
}

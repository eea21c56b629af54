package org.ceaedge.core;

/** The result's file name, as {@code python -m cea_edge.enhance} names it: {@code <stem>_enhanced.png}. */
public final class ResultName {
    private ResultName() {
    }

    /** {@code IMG_1.JPG} -> {@code IMG_1_enhanced.png}; characters a file system may refuse become '_'. */
    public static String of(String displayName) {
        String name = displayName == null ? "" : displayName.trim();
        int slash = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
        name = name.substring(slash + 1);
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        stem = stem.replaceAll("[\\x00-\\x1f\"*:<>?|]", "_");
        if (stem.isEmpty() || stem.equals(".") || stem.equals("..")) {
            stem = "photo";
        }
        if (stem.length() > 100) {
            stem = stem.substring(0, 100);
        }
        return stem + "_enhanced.png";
    }
}

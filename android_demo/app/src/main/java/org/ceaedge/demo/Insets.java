package org.ceaedge.demo;

import android.view.View;
import android.view.WindowInsets;

/**
 * Edge to edge: an app targeting Android 15 (API 35) draws behind the status and navigation
 * bars, so the root view takes their insets as extra padding and nothing sits under them.
 * (WindowInsets' system-window insets: API 20+, what the API-23 build can call; they cover the
 * status bar, the navigation bar and the keyboard.)
 */
final class Insets {
    private Insets() {
    }

    @SuppressWarnings("deprecation") // getSystemWindowInset*: the API-23 spelling of getInsets(systemBars())
    static void padForSystemBars(final View root) {
        final int left = root.getPaddingLeft();
        final int top = root.getPaddingTop();
        final int right = root.getPaddingRight();
        final int bottom = root.getPaddingBottom();
        root.setOnApplyWindowInsetsListener(new View.OnApplyWindowInsetsListener() {
            @Override
            public WindowInsets onApplyWindowInsets(View view, WindowInsets insets) {
                view.setPadding(left + insets.getSystemWindowInsetLeft(), top + insets.getSystemWindowInsetTop(),
                        right + insets.getSystemWindowInsetRight(), bottom + insets.getSystemWindowInsetBottom());
                return insets;
            }
        });
        root.requestApplyInsets();
    }
}

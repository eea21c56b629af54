package org.ceaedge.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.graphics.Rect;
import android.graphics.RectF;
import android.util.AttributeSet;
import android.view.MotionEvent;
import android.view.View;

/**
 * Before/after with a drag slider: the result left of the divider, the photo right of it,
 * both scaled into the same rectangle (their previews may differ by a pixel in size). Before
 * a result exists it shows the photo alone; the divider follows the finger.
 */
public final class CompareView extends View {
    private final Paint bitmapPaint = new Paint(Paint.FILTER_BITMAP_FLAG);
    private final Paint linePaint = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint labelPaint = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final RectF frame = new RectF();
    private Bitmap before;
    private Bitmap after;
    private float split = 0.5f;

    public CompareView(Context context) {
        this(context, null);
    }

    public CompareView(Context context, AttributeSet attributes) {
        super(context, attributes);
        linePaint.setColor(Color.WHITE);
        linePaint.setStrokeWidth(3 * getResources().getDisplayMetrics().density);
        labelPaint.setColor(Color.WHITE);
        labelPaint.setTextSize(14 * getResources().getDisplayMetrics().scaledDensity);
        labelPaint.setShadowLayer(4, 0, 0, Color.BLACK);
    }

    /** Show a photo (after may be null until the result is there). */
    public void show(Bitmap before, Bitmap after) {
        this.before = before;
        this.after = after;
        split = 0.5f;
        invalidate();
    }

    public void clear() {
        show(null, null);
    }

    @Override
    protected void onDraw(Canvas canvas) {
        if (before == null) {
            return;
        }
        fit(before, frame);
        if (after == null) {
            canvas.drawBitmap(before, null, frame, bitmapPaint);
            return;
        }
        float x = frame.left + split * frame.width();
        int save = canvas.save();
        canvas.clipRect(frame.left, frame.top, x, frame.bottom);
        canvas.drawBitmap(after, null, frame, bitmapPaint);
        canvas.restoreToCount(save);
        save = canvas.save();
        canvas.clipRect(x, frame.top, frame.right, frame.bottom);
        canvas.drawBitmap(before, null, frame, bitmapPaint);
        canvas.restoreToCount(save);
        canvas.drawLine(x, frame.top, x, frame.bottom, linePaint);
        float pad = 8 * getResources().getDisplayMetrics().density;
        String left = getResources().getString(R.string.label_after);
        String right = getResources().getString(R.string.label_before);
        canvas.drawText(left, frame.left + pad, frame.top + pad - labelPaint.ascent(), labelPaint);
        canvas.drawText(right, frame.right - pad - labelPaint.measureText(right), frame.top + pad - labelPaint.ascent(),
                labelPaint);
    }

    @Override
    public boolean onTouchEvent(MotionEvent event) {
        if (after == null || frame.width() <= 0) {
            return super.onTouchEvent(event);
        }
        int action = event.getActionMasked();
        if (action == MotionEvent.ACTION_DOWN || action == MotionEvent.ACTION_MOVE) {
            getParent().requestDisallowInterceptTouchEvent(true);
            split = Math.max(0f, Math.min(1f, (event.getX() - frame.left) / frame.width()));
            invalidate();
            return true;
        }
        if (action == MotionEvent.ACTION_UP) {
            performClick();
        }
        return action == MotionEvent.ACTION_UP || action == MotionEvent.ACTION_CANCEL;
    }

    @Override
    public boolean performClick() {
        return super.performClick();
    }

    /** The largest rectangle of the bitmap's aspect ratio centred in the view. */
    private void fit(Bitmap bitmap, RectF into) {
        Rect bounds = new Rect(getPaddingLeft(), getPaddingTop(), getWidth() - getPaddingRight(),
                getHeight() - getPaddingBottom());
        float scale = Math.min(bounds.width() / (float) bitmap.getWidth(), bounds.height() / (float) bitmap.getHeight());
        float w = bitmap.getWidth() * scale;
        float h = bitmap.getHeight() * scale;
        into.set(bounds.centerX() - w / 2, bounds.centerY() - h / 2, bounds.centerX() + w / 2, bounds.centerY() + h / 2);
    }
}

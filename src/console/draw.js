// Drawing faces over an image on a canvas: boxes, scores and landmarks.

/**
 * Draws `bitmap` on `canvas` (scaled to fit `maxSide`) and the faces over it. Face coordinates are in
 * pixels of the upright original (`imageWidth` wide), so they are scaled by canvas / original width.
 * Returns the boxes as drawn, in canvas pixels.
 */
export function drawFaces(canvas, bitmap, faces, imageWidth, maxSide) {
  const fit = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  canvas.width = Math.max(1, Math.round(bitmap.width * fit));
  canvas.height = Math.max(1, Math.round(bitmap.height * fit));
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const k = canvas.width / (imageWidth || bitmap.width);
  const line = Math.max(2, Math.round(Math.min(canvas.width, canvas.height) / 200));
  const font = Math.max(11, Math.round(Math.min(canvas.width, canvas.height) / 32));
  ctx.textBaseline = 'bottom';
  const drawn = [];
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box.map((v) => v * k);
    // Small faces in crowds get thinner lines, smaller labels and dots, so the face stays visible.
    const side = Math.max(1, Math.min(x2 - x1, y2 - y1));
    const lw = Math.max(1, Math.min(line, Math.round(side / 20)));
    const size = Math.max(9, Math.min(font, Math.round(side / 2.5)));
    ctx.font = `600 ${size}px system-ui, sans-serif`;
    ctx.lineWidth = lw;
    ctx.strokeStyle = '#00e676';
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = face.score.toFixed(2);
    const tw = ctx.measureText(label).width + 6;
    const ty = y1 - lw > size + 2 ? y1 - lw : y2 + size + lw + 2;
    ctx.fillStyle = 'rgba(0,0,0,0.65)';
    ctx.fillRect(x1 - lw / 2, ty - size - 2, tw, size + 4);
    ctx.fillStyle = '#00e676';
    ctx.fillText(label, x1 + 3 - lw / 2, ty + 1);
    ctx.fillStyle = '#ffd400';
    for (const [lx, ly] of face.landmarks || []) {
      ctx.beginPath();
      ctx.arc(lx * k, ly * k, Math.max(1, Math.min(line, side / 25)), 0, Math.PI * 2);
      ctx.fill();
    }
    drawn.push([x1, y1, x2, y2].map((v) => Math.round(v)));
  }
  canvas.dataset.faceCount = String(faces.length);
  canvas.dataset.boxes = JSON.stringify(drawn);
  return drawn;
}

'use strict';
// Opens the camera, draws one frame on a canvas and reports its size and the mean brightness
// of its left and right quarters, as JSON in #frame.

const report = (value) => {
  document.getElementById('frame').textContent = JSON.stringify(value);
};

async function readFrame() {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true });
  const video = document.getElementById('video');
  video.srcObject = stream;
  await video.play();
  await new Promise((resolve) => video.requestVideoFrameCallback(resolve));

  const width = video.videoWidth;
  const height = video.videoHeight;
  const canvas = document.getElementById('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(video, 0, 0);
  // Rec. 601 luma of the pixels between two columns.
  const brightness = (from, to) => {
    const pixels = context.getImageData(from, 0, to - from, height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      sum += 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
    }
    return sum / (pixels.length / 4);
  };
  const quarter = Math.floor(width / 4);
  report({
    width,
    height,
    left: brightness(0, quarter),
    right: brightness(width - quarter, width),
  });
}

readFrame().catch((e) => report({ error: e.name + ': ' + e.message }));
